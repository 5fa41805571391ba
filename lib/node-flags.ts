/**
 * V8 flags every Ferry Node process runs with: the Procfile, the npm scripts, and the processes
 * tests and benchmarks start (support/processes.ts), so what is measured is what runs.
 * lib/node-flags.test.ts keeps the Procfile and package.json in step with this list.
 *
 * --max-semi-space-size=64 (MB; Node 20 defaults to 16): a batch's events, rows and statements
 * live for the tens of milliseconds their sink writes take, long enough with the default young
 * generation to be promoted and then collected again by mark-compact. Fewer, longer scavenges;
 * costs up to ~190 MB more memory per process under load. The measurements (worker CPU per
 * event, gateway batch rate, end-to-end p99, GC pauses) are in docs/benchmarks.md, "Findings behind the defaults".
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];
