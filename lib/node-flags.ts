/**
 * V8 flags every Ferry Node process runs with: the Procfile, the npm scripts, and the processes
 * tests and benchmarks start (test/helpers.ts), so what is measured is what runs.
 * lib/node-flags.test.ts keeps the Procfile and package.json in step with this list.
 *
 * --max-semi-space-size=64 (MB; Node 20 defaults to 16): a batch's events, rows and statements
 * live for the tens of milliseconds their sink writes take, which with the default young
 * generation is long enough to be promoted and collected again by the old generation's
 * mark-compact. The worker allocates ~15 kB per drained event; with 64 MB semi-spaces it spent
 * 16.2-16.7 us of CPU per drained event against 20.3-21.3 (alternated bench runs of leg d) and
 * the gateway took 88-91 k batched events/s against 83-85 k (leg b). Scavenges are fewer and
 * longer (worker p50 13 ms against 6.5 ms); end-to-end p99 at a fixed rate did not move beyond
 * the run-to-run spread (medians 49.5 against 48.5 ms in eight alternated runs a side). The cost
 * is memory: up to ~190 MB more young generation per process under load. docs/benchmarks.md,
 * "Seventh session", has the runs.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];
