/**
 * `npm run bench` (about 5 minutes) and `npm run bench:quick` (under a minute): Ferry against
 * its own floors, in one run, on isolated stack pieces (topics, databases and key prefixes of
 * their own; see support/isolation.ts isolate()), with one gateway process and one worker process.
 *
 *   a  gateway single-event POST req/s / bare Hono handler (same JSON parse, 202, no Kafka)
 *   b  gateway batch events/s / bare librdkafka producer of the same records (producer limit)
 *   c  202 after Kafka's ack / 202 right after librdkafka's enqueue (same app, bench server)
 *   d  worker drain rate (every sink written) / gateway sustained ingest (leg b)
 *   e  worker drain rate with 1% of PostgreSQL writes failing once / without failures
 *   f  end-to-end p99, accepted -> written in PostgreSQL, at half the sustained rate
 *   s  the whole pipeline's sustained rate with batches of 50 (every event in every sink, p99 ≤ 250 ms)
 *   u  a worker's start-up CPU
 *
 * The report leads with where the CPU goes (per process, per event, by leg) and the goals
 * (ratios.ts goals()), then each part against its own floor (ratios.ts ratios()). Ferry's
 * processes run from the bundles in dist/ (built first), as the Procfile runs them.
 *   g  gateway single-event req/s and batch events/s / @platformatic/kafka-hooks' POST /topics/:topic
 *      (goal 5; full runs only, last; the peer is installed on demand, bench/peer-install.ts)
 *
 * Every HTTP leg is warmed up and then measured with the same autocannon settings; CPU of
 * every process is sampled from /proc; a leg whose load generator (this process) used more
 * than 0.9 of a core is marked invalid and left out of the ratios.
 *
 * Options: --quick, --profile (node --cpu-prof on the Ferry processes; numbers then are not
 * comparable), --legs a,b,c,d,e,f,g, --out DIR (default bench/results), --f-rate N (offer f this
 * many req/s instead of half the sustained rate, to compare runs at one rate), --split-groups
 * (legs d, e, f run the read-model and analytics groups in worker processes of their own),
 * --source (Ferry's processes from the TypeScript under tsx instead of dist/).
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { sweepStaleIsolations } from '../support/stale-isolations.ts';
import type { BenchResult, LegResult } from './bench-result.ts';
import { BenchContext, benchLog as log, benchSettings } from './context.ts';
import type { Running } from './drain.ts';
import { tryBridge } from './kafka-bridge.ts';
import { legA } from './legs/a-gateway.ts';
import { legB } from './legs/b-batch.ts';
import { legC } from './legs/c-ack.ts';
import { legD } from './legs/d-drain.ts';
import { legE } from './legs/e-drain-failures.ts';
import { legF } from './legs/f-end-to-end.ts';
import { legG } from './legs/g-peer.ts';
import { legS } from './legs/s-sustained.ts';
import { legU } from './legs/u-startup.ts';
import { build } from '../scripts/build.ts';
import { machine } from './machine.ts';
import { installPeer } from './peer-install.ts';
import { goals, ratios } from './ratios.ts';
import { renderHtml, renderMarkdown } from './report.ts';

const root = new URL('../', import.meta.url).pathname;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    legs: { type: 'string' },
    out: { type: 'string' },
    connections: { type: 'string' },
    'f-rate': { type: 'string' },
    'split-groups': { type: 'boolean', default: false },
    source: { type: 'boolean', default: false },
  },
});

const quick = args.quick!;
const settings = benchSettings({ quick, connections: args.connections, splitGroups: args['split-groups']! });
if (args['f-rate'] !== undefined && !(Number(args['f-rate']) > 0)) throw new Error(`--f-rate must be a positive number of req/s, got ${args['f-rate']}`);
const legsWanted = new Set((args.legs ?? (quick ? 'a,b,d,f,s,u' : 'a,b,c,d,e,f,s,u,g')).split(',').map((s) => s.trim()));
const outDir = args.out ?? `${root}bench/results`;
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const runDir = `${outDir}/bench-${stamp}`;
mkdirSync(runDir, { recursive: true });

{
  // A bench or test that died before its cleanup left databases, topics and keys; drop them
  // first, so they neither fill the machine nor slow this run.
  const swept = await sweepStaleIsolations();
  if (swept.ids.length > 0) log(`dropped ${swept.ids.length} stale isolations of processes that are gone (${swept.keys} Redis keys)`);
  for (const p of swept.problems) log(`could not sweep stale isolations: ${p}`);
}
const ctx = new BenchContext({
  root,
  runDir,
  quick,
  profile: args.profile!,
  settings,
  fRate: args['f-rate'] !== undefined ? Number(args['f-rate']) : undefined,
  built: !args.source,
});
ctx.sampler.start(1000);

async function main(): Promise<void> {
  const started = Date.now();
  const m = machine();
  log(`${quick ? 'quick' : 'full'} benchmark${args.profile ? ' (profiled)' : ''}, legs ${[...legsWanted].join(',')}; results in ${runDir}`);
  const legs = new Map<string, LegResult>();
  const add = (ls: LegResult[]) => ls.forEach((l) => legs.set(l.id, l));
  if (!args.source) {
    await build();
    log('built dist/: Ferry processes run from the bundles');
  }

  const needsThroughput = ['a', 'b', 'c', 'g'].some((l) => legsWanted.has(l));
  const needsPipeline = ['d', 'f', 's'].some((l) => legsWanted.has(l));
  const [isoT, isoD, isoE, isoU] = await Promise.all([
    needsThroughput ? ctx.stack() : undefined,
    needsPipeline ? ctx.stack() : undefined,
    legsWanted.has('e') ? ctx.stack() : undefined,
    legsWanted.has('u') ? ctx.stack() : undefined,
  ]);
  // First, on a quiet machine: nothing else of the run has started yet.
  if (legsWanted.has('u')) add([await legU(ctx, isoU!)]);
  if (legsWanted.has('a')) add(await legA(ctx, isoT!));
  if (legsWanted.has('c')) add(await legC(ctx, isoT!));
  if (legsWanted.has('b')) add(await legB(ctx, isoT!));

  let running: Running = {};
  if (needsPipeline) {
    const d = await legD(ctx, isoD!, legsWanted.has('f') || legsWanted.has('s'));
    add([d.leg]);
    running = d;
  }
  if (legsWanted.has('f') && running.gateway) {
    const f = await legF(ctx, isoD!, running, legs);
    if (f) add([f]);
  }
  if (legsWanted.has('s') && running.gateway) add([await legS(ctx, isoD!, running, legs)]);
  await Promise.all([ctx.stop(running.gateway?.proc), ctx.stop(running.worker), ctx.stop(running.analytics)]);
  if (legsWanted.has('e')) add(await legE(ctx, isoE!, legsWanted.has('d') ? { iso: isoD!, leg: legs.get('d-drain')! } : undefined));
  let peer: BenchResult['peer'];
  if (legsWanted.has('g')) {
    // Last: npm's install, when the cache lacks the peer, would otherwise compete with legs.
    log('g: the peer, @platformatic/kafka-hooks (bench/peer-install.ts)');
    const install = installPeer();
    peer = { available: install.available, tried: install.tried, outcome: install.outcome };
    log(`g: ${install.outcome}`);
    if (install.available) {
      try {
        add(await legG(ctx, isoT!, install));
      } catch (err) {
        // The peer is not Ferry: its failure is reported, and the other legs' results stay.
        peer = { ...peer, available: false, outcome: `${install.outcome} Leg g failed: ${(err as Error).message.split('\n')[0]}` };
        log(`g failed: ${(err as Error).stack ?? String(err)}`);
      }
    }
  }

  m.loadAverageEnd = loadavg();
  const result: BenchResult = {
    mode: quick ? 'quick' : 'full',
    profiled: Boolean(args.profile),
    startedAt: new Date(started).toISOString(),
    durationS: (Date.now() - started) / 1000,
    machine: m,
    settings,
    legs: [...legs.values()],
    goals: goals(legs, { peerUnavailable: peer && !peer.available ? peer.outcome : undefined }),
    ratios: ratios(legs, m),
    // After the legs: Maven's JVM would otherwise compete with them for the CPU.
    bridge: quick ? { available: false, tried: [], outcome: 'not tried in quick mode' } : await tryBridge(root),
    ...(peer ? { peer } : {}),
    ...(args.profile ? { profiles: ctx.profiles } : {}),
    commands: [
      'bash scripts/services.sh start',
      quick ? 'npm run bench:quick' : `npm run bench${args.profile ? ' -- --profile' : ''}`,
      'npm run loadtest -- --url http://127.0.0.1:8080 -R 1000 -c 32 -d 30   # against a running pipeline',
    ],
  };
  const md = renderMarkdown(result);
  writeFileSync(`${runDir}/result.json`, JSON.stringify({ ...result, cpuSamples: ctx.sampler.samples }, null, 2));
  writeFileSync(`${runDir}/report.html`, renderHtml(result));
  writeFileSync(`${runDir}/table.md`, `${md}\n`);
  for (const [f, to] of [['result.json', 'latest.json'], ['report.html', 'latest.html'], ['table.md', 'latest.md']] as const) {
    copyFileSync(`${runDir}/${f}`, `${outDir}/${quick ? 'quick-' : ''}${to}`);
  }
  process.stdout.write(`${md}\n\nwrote ${runDir}/result.json, report.html, table.md\n`);
}

let exitCode = 0;
try {
  await main();
} catch (err) {
  exitCode = 1;
  log(`failed: ${(err as Error).stack ?? String(err)}`);
} finally {
  await ctx.close();
}
process.exit(exitCode);
