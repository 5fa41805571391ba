/**
 * `npm run bench` (about 8 minutes) and `npm run bench:quick` (under a minute): Ferry against
 * its own floors, in one run, on isolated stack pieces (topics, databases and key prefixes of
 * their own; see support/isolation.ts isolate()), with one gateway process and one worker process.
 *
 *   a  gateway single-event POST req/s / bare Hono handler (same JSON parse, 202, no Kafka)
 *   b  gateway batch events/s / bare librdkafka producer of the same records (producer limit)
 *   c  202 after Kafka's ack / 202 right after librdkafka's enqueue (same app, bench server)
 *   d  worker drain rate (every sink written) / gateway sustained ingest (leg b)
 *   e  worker drain rate with 1% of PostgreSQL writes failing once / without failures
 *   f  end-to-end p99, accepted -> written in PostgreSQL, at half the sustained rate
 *
 * Every HTTP leg is warmed up and then measured with the same autocannon settings; CPU of
 * every process is sampled from /proc; a leg whose load generator (this process) used more
 * than 0.9 of a core is marked invalid and left out of the ratios.
 *
 * Options: --quick, --profile (node --cpu-prof on the Ferry processes; numbers then are not
 * comparable), --legs a,b,c,d,e,f, --out DIR (default bench/results), --f-rate N (offer f this
 * many req/s instead of half the sustained rate, to compare runs at one rate), --split-groups
 * (legs d, e, f run the read-model and analytics groups in worker processes of their own).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { ensureTopics } from '../lib/kafka/topics.ts';
import { sha256Hex } from '../lib/api-keys.ts';
import { isolate, type Isolated } from '../support/isolation.ts';
import { freePort } from '../support/processes.ts';
import { waitFor } from '../support/wait-for.ts';
import { sweepStaleIsolations } from '../support/stale-isolations.ts';
import type { BenchResult, LegResult, Machine, Point, Ratio } from './bench-result.ts';
import { checkSink, outcomeOf } from './checker.ts';
import { drainCeiling } from './drain-ceiling.ts';
import { CpuSampler, serviceTargets, type CpuSample } from './cpu.ts';
import { runLoad, type FixedRequest, type LoadResult } from './load.ts';
import { spawnNode, spawnServer, type Child } from './procs.ts';
import { formatProfile, summarizeProfileFile } from './profile-summary.ts';
import { digests } from './prom.ts';
import { renderHtml, renderMarkdown } from './report.ts';
import { idsOfAnswer, runLoadtest } from './run-loadtest.ts';
import { AppliedWatcher, KafkaAdmin, readClickhouse, readPostgres } from './sinks.ts';
import { rateBetween, round } from './stats.ts';
import { newRunId, planRequest, tagOf, validateWorkload } from './workload.ts';

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
  },
});

const quick = args.quick!;
const settings = {
  /** Seconds of warm-up before every measured HTTP leg. */
  warmupS: quick ? 1 : 5,
  measureS: quick ? 3 : 15,
  /** Alternating rounds of the paired legs (a, c), sharing measureS per side. */
  rounds: quick ? 1 : 3,
  connections: Number(args.connections ?? 64),
  /** Offered req/s of the saturation legs: far above what one process can answer. */
  offeredSingle: 50_000,
  offeredBatch: 5_000,
  batch: 100,
  ordersRatio: 0.5,
  keys: 1000,
  phases: 10,
  backlogEvents: quick ? 20_000 : 150_000,
  fWarmupS: quick ? 1 : 5,
  fMeasureS: quick ? 4 : 20,
  drainTimeoutS: quick ? 60 : 240,
  gatewayProcesses: 1,
  workerProcesses: 1,
  /** Read model and analytics in worker processes of their own (--split-groups). */
  splitGroups: args['split-groups']!,
  loadGeneratorLimitCores: 0.9,
};
if (args['f-rate'] !== undefined && !(Number(args['f-rate']) > 0)) throw new Error(`--f-rate must be a positive number of req/s, got ${args['f-rate']}`);
const legsWanted = new Set((args.legs ?? (quick ? 'a,b,d,f' : 'a,b,c,d,e,f')).split(',').map((s) => s.trim()));
const outDir = args.out ?? `${root}bench/results`;
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const runDir = `${outDir}/bench-${stamp}`;
mkdirSync(runDir, { recursive: true });

const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
{
  // A bench or test that died before its cleanup left databases, topics and keys; drop them
  // first, so they neither fill the machine nor slow this run.
  const swept = await sweepStaleIsolations();
  if (swept.ids.length > 0) log(`dropped ${swept.ids.length} stale isolations of processes that are gone (${swept.keys} Redis keys)`);
  for (const p of swept.problems) log(`could not sweep stale isolations: ${p}`);
}
const sampler = new CpuSampler();
for (const t of serviceTargets(root)) sampler.watch(t);
sampler.start(1000);

const cleanups: (() => Promise<unknown>)[] = [];
const kafka = new KafkaAdmin((process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','));
const benchTopics: string[] = [];
const profiles: Record<string, unknown> = {};

function nodeArgs(name: string): string[] {
  const extra = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  return [...extra, ...(args.profile ? ['--cpu-prof', `--cpu-prof-dir=${runDir}/profiles/${name}`] : [])];
}

async function stack(): Promise<Isolated> {
  const iso = await isolate({ LOG_LEVEL: 'warn' });
  benchTopics.push(iso.topic('orders'), iso.topic('page_views'));
  cleanups.push(() => iso.cleanup());
  return iso;
}

const live = new Set<Child>();

function watch(proc: Child): Child {
  sampler.watch({ name: proc.name, pid: proc.pid });
  live.add(proc);
  return proc;
}

async function stop(proc: Child | undefined): Promise<void> {
  if (!proc) return;
  const code = await proc.stop();
  live.delete(proc);
  sampler.unwatch(proc.name);
  if (code !== 0) log(`${proc.name} exited with ${code}\n${proc.output().slice(-2000)}`);
  if (args.profile) {
    const dir = `${runDir}/profiles/${proc.name}`;
    if (existsSync(dir)) {
      for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) {
        const s = summarizeProfileFile(`${dir}/${f}`);
        profiles[`${proc.name}/${f}`] = s;
        log(formatProfile(`${proc.name} (${f})`, s));
      }
    }
  }
}

function gatewayEnv(iso: Isolated): Record<string, string> {
  return { ...iso.env, GATEWAY_PROCESSES: String(settings.gatewayProcesses) };
}

function workerEnv(iso: Isolated): Record<string, string> {
  return { ...iso.env, WORKER_PROCESSES: String(settings.workerProcesses) };
}

function cpuWindow(a: CpuSample, b: CpuSample): Record<string, number> {
  const cores = CpuSampler.between(a, b).cores;
  return Object.fromEntries(Object.entries(cores).map(([k, v]) => [k, round(v)]));
}

function loadGeneratorCheck(cores: Record<string, number>, invalid: string[]): void {
  const lg = cores['load generator'] ?? 0;
  if (lg > settings.loadGeneratorLimitCores) invalid.push(`load generator used ${round(lg)} cores (> ${settings.loadGeneratorLimitCores} of one core): the client, not the server, may be the limit`);
}

/** The /metrics page of a process, or undefined when it has none. */
async function scrape(url: string | undefined): Promise<string | undefined> {
  if (!url) return undefined;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

const GATEWAY_HISTOGRAMS = ['ferry_gateway_produce_duration_seconds', 'ferry_gateway_http_request_duration_seconds'];
const WORKER_HISTOGRAMS = ['ferry_worker_batch_wait_seconds', 'ferry_worker_batch_seconds', 'ferry_worker_batch_size', 'ferry_worker_sink_write_seconds', 'ferry_worker_sink_batch_size'];

/** A pool of fixed requests (built once, the cheapest for the load generator). */
function pool(batch: number, n: number): FixedRequest[] {
  const w = validateWorkload({ runId: newRunId('p'), batch, ordersRatio: settings.ordersRatio, keys: settings.keys });
  return Array.from({ length: n }, (_, seq) => planRequest(w, seq)).map(({ path, body }) => ({ path, body }));
}

/** Starts a server child under `name` (its CPU and profile go by that name) and watches it. */
async function server(name: string, entry: string, env: Record<string, string>, readyPath = '/healthz'): Promise<{ proc: Child; url: string }> {
  const s = await spawnServer(name, entry, env, nodeArgs(name), readyPath);
  watch(s.proc);
  return s;
}

/** A saturation leg: warm up, then measure answered 2xx per second with the same settings every time. */
async function httpLeg(id: string, title: string, url: string, requests: FixedRequest[], eventsPerRequest: number, offered: number, headers: Record<string, string> = {}): Promise<LegResult> {
  log(`${id}: ${title}: warm-up ${settings.warmupS} s`);
  await runLoad({ url, connections: settings.connections, rate: offered, durationS: settings.warmupS, phases: settings.phases, requests, headers });
  log(`${id}: measuring ${settings.measureS} s`);
  const w = await measureWindow(id, title, url, requests, eventsPerRequest, offered, settings.measureS, headers);
  if (w.m1) w.leg.metrics = digests(w.m1, w.m0, GATEWAY_HISTOGRAMS);
  return w.leg;
}

/** One measured saturation window, with the CPU of every process and the server's metrics page before and after. */
interface Window {
  leg: LegResult;
  m0?: string;
  m1?: string;
}

async function measureWindow(id: string, title: string, url: string, requests: FixedRequest[], eventsPerRequest: number, offered: number, durationS: number, headers: Record<string, string> = {}): Promise<Window> {
  const m0 = await scrape(`${url}/metrics`);
  const c0 = sampler.sample();
  const r = await runLoad({ url, connections: settings.connections, rate: offered, durationS, phases: settings.phases, requests, headers });
  const c1 = sampler.sample();
  const m1 = await scrape(`${url}/metrics`);
  return { leg: legFromLoad(id, title, r, eventsPerRequest, cpuWindow(c0, c1)), m0, m1 };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function meanCores(list: Record<string, number>[]): Record<string, number> {
  return Object.fromEntries([...new Set(list.flatMap((c) => Object.keys(c)))].map((k) => [k, round(mean(list.map((c) => c[k] ?? 0)))]));
}

/**
 * One side's alternated rounds as its leg: the mean rate and CPU of the rounds, the server's
 * histograms from the first round's start to the last round's end, latency from the first round.
 */
function combineRounds(id: string, windows: Window[], partner: string, roundS: number): LegResult {
  const legs = windows.map((w) => w.leg);
  const first = legs[0]!;
  const invalid = [...new Set(legs.flatMap((l) => l.invalid))];
  const leg: LegResult = {
    ...first,
    id,
    value: mean(legs.map((l) => l.value)),
    eventsPerS: mean(legs.map((l) => l.eventsPerS ?? l.value)),
    cpuCores: meanCores(legs.map((l) => l.cpuCores)),
    valid: invalid.length === 0,
    invalid,
    notes: [...first.notes, `Mean of ${legs.length} rounds of ${round(roundS)} s alternated with ${partner}: ${legs.map((l) => round(l.value)).join(', ')} ${first.unit}; latency is from the first round.`],
    throughputSeries: legs.flatMap((l) => l.throughputSeries),
  };
  const m0 = windows[0]!.m0;
  const m1 = windows[windows.length - 1]!.m1;
  if (m1) leg.metrics = digests(m1, m0, GATEWAY_HISTOGRAMS);
  return leg;
}

/** Per-round ratios, noted on the numerator and logged. */
function noteRounds(num: LegResult, den: LegResult, perRound: number[]): void {
  const text = perRound.map((x) => x.toFixed(2)).join(', ');
  num.notes.push(`${num.id} / ${den.id} per round: ${text}.`);
  log(`${num.id}: ${round(num.value)} ${num.unit}; ${den.id}: ${round(den.value)} ${den.unit}; ratio per round ${text}`);
}

/** One side of a paired measurement. */
interface PairSide {
  id: string;
  title: string;
  url: string;
  headers?: Record<string, string>;
}

/**
 * Two saturation legs of one ratio, measured in alternating rounds (A B, B A, A B, ...) with
 * both servers up the whole time, so that drift of a shared, noisy machine falls on both sides
 * alike instead of on whichever leg ran second. Each side's value is the mean of its rounds;
 * the numerator's notes list the ratio of every round, so the spread is visible.
 */
async function pairedHttpLegs(a: PairSide, b: PairSide, requests: FixedRequest[], eventsPerRequest: number, offered: number): Promise<[LegResult, LegResult]> {
  for (const side of [a, b]) {
    log(`${side.id}: ${side.title}: warm-up ${settings.warmupS} s`);
    await runLoad({ url: side.url, connections: settings.connections, rate: offered, durationS: settings.warmupS, phases: settings.phases, requests, headers: side.headers ?? {} });
  }
  const roundS = settings.measureS / settings.rounds;
  const windows = new Map<PairSide, Window[]>([[a, []], [b, []]]);
  log(`${a.id} / ${b.id}: ${settings.rounds} rounds of ${round(roundS)} s each, alternating`);
  for (let i = 0; i < settings.rounds; i++) {
    for (const side of i % 2 === 0 ? [a, b] : [b, a]) {
      windows.get(side)!.push(await measureWindow(`${side.id} round ${i + 1}`, side.title, side.url, requests, eventsPerRequest, offered, roundS, side.headers));
    }
  }
  const legA = combineRounds(a.id, windows.get(a)!, b.id, roundS);
  const legB = combineRounds(b.id, windows.get(b)!, a.id, roundS);
  noteRounds(legA, legB, windows.get(a)!.map((w, i) => w.leg.value / windows.get(b)![i]!.leg.value));
  return [legA, legB];
}

function legFromLoad(id: string, title: string, r: LoadResult, eventsPerRequest: number, cpuCores: Record<string, number>): LegResult {
  const invalid: string[] = [];
  const notes: string[] = [];
  loadGeneratorCheck(cpuCores, invalid);
  if (r.ok === 0) invalid.push('no 2xx answers');
  const non2xx = r.answered - r.ok;
  if (non2xx > 0) notes.push(`${non2xx} non-2xx answers (${JSON.stringify(r.statusCounts)}); only 2xx count.`);
  if (r.errors > 0) notes.push(`${r.errors} connection errors or timeouts.`);
  notes.push('Saturation leg: the offered rate is far above capacity, so latency here is queueing at saturation, not the latency figure (see f).');
  const value = r.steady.okRate;
  log(`${id}: ${round(value)} req/s${eventsPerRequest > 1 ? `, ${round(value * eventsPerRequest)} events/s` : ''}; load generator ${cpuCores['load generator']} cores`);
  return {
    id,
    title,
    kind: 'http',
    unit: eventsPerRequest > 1 ? 'events/s' : 'req/s',
    value: eventsPerRequest > 1 ? value * eventsPerRequest : value,
    eventsPerS: value * eventsPerRequest,
    valid: invalid.length === 0,
    invalid,
    notes,
    offered: r.offeredRate,
    connections: r.connections,
    durationS: r.durationS,
    latencyMs: r.latency.summary(),
    distribution: r.latency.distribution(),
    statusCounts: r.statusCounts,
    errors: r.errors,
    cpuCores,
    throughputSeries: r.perSecond.map((p) => ({ t: p.t, v: p.answered * eventsPerRequest })),
  };
}

async function legA(iso: Isolated): Promise<LegResult[]> {
  const requests = pool(1, 500);
  const gw = await server('gateway-a', 'gateway/main.ts', gatewayEnv(iso), '/readyz');
  const bare = await server('bare-server', 'bench/servers/bare-server.ts', {});
  const [gateway, floor] = await pairedHttpLegs(
    { id: 'a-gateway', title: 'gateway: single-event POST (202 after Kafka ack), default configuration', url: gw.url },
    { id: 'a-bare', title: 'bare Hono handler: same JSON parse, 202, no Kafka', url: bare.url },
    requests, 1, settings.offeredSingle,
  ).finally(() => Promise.all([stop(gw.proc), stop(bare.proc)]));
  if (quick) return [gateway, floor];
  // Informational: the same floor reading the body as the gateway does (from Node's request).
  const bareNode = await server('bare-server-node-body', 'bench/servers/bare-server.ts', { BODY: 'node' });
  const floorNode = await httpLeg('a-bare-node-body', 'bare Hono handler reading the body as the gateway does (gateway/node/body.ts)', bareNode.url, requests, 1, settings.offeredSingle).finally(() => stop(bareNode.proc));
  floorNode.notes.push('Informational: not one of the ratios. The floor of ratio a reads the body with Hono\'s c.req.text(), which builds a web Request, an AbortSignal and a stream per request; the gateway reads Node\'s request directly. This floor does the same, to show what the rest of the gateway costs.');
  // Informational: the production configuration (API key required, no CORS by default).
  const key = `fry_bench_${crypto.randomUUID()}`;
  const keys = JSON.stringify([{ id: 'bench', tenant: 'bench', sha256: await sha256Hex(key), scopes: ['write:orders', 'write:page_views'] }]);
  const prod = await server('gateway-a-production', 'gateway/main.ts', { ...gatewayEnv(iso), NODE_ENV: 'production', FERRY_API_KEYS: keys }, '/readyz');
  const production = await httpLeg('a-gateway-production', 'gateway: single-event POST, NODE_ENV=production (API key checked, no CORS)', prod.url, requests, 1, settings.offeredSingle, { 'x-api-key': key }).finally(() => stop(prod.proc));
  production.notes.push('Informational: not one of the ratios. Same gateway with NODE_ENV=production: every request carries an API key (SHA-256 checked) and the CORS middleware is not installed (no CORS_ORIGINS).');
  return [gateway, floor, production, floorNode];
}

async function legC(iso: Isolated): Promise<LegResult[]> {
  const requests = pool(1, 500);
  const ack = await server('app-ack', 'bench/servers/producer-modes-server.ts', { ...gatewayEnv(iso), MODE: 'ack' }, '/readyz');
  const enqueue = await server('app-enqueue', 'bench/servers/producer-modes-server.ts', { ...gatewayEnv(iso), MODE: 'enqueue' }, '/readyz');
  try {
    const legs = await pairedHttpLegs(
      { id: 'c-ack', title: 'gateway app: 202 after Kafka ack', url: ack.url },
      { id: 'c-enqueue', title: 'gateway app: 202 right after librdkafka enqueue', url: enqueue.url },
      requests, 1, settings.offeredSingle,
    );
    for (const [leg, s] of [[legs[0], ack], [legs[1], enqueue]] as const) {
      const stats = (await (await fetch(`${s.url}/bench/stats`)).json()) as { lateFailures: number };
      if (stats.lateFailures > 0) {
        leg.valid = false;
        leg.invalid.push(`${stats.lateFailures} records answered 202 whose delivery then failed`);
      }
    }
    return legs;
  } finally {
    await Promise.all([stop(ack.proc), stop(enqueue.proc)]);
  }
}

async function legB(iso: Isolated): Promise<LegResult[]> {
  const requests = pool(settings.batch, 40);
  const prefix = `${iso.id}.bare.`;
  const topics = [`${prefix}orders`, `${prefix}page_views`];
  await ensureTopics({ brokers: iso.env.KAFKA_BROKERS!.split(','), topics, partitions: 6 });
  benchTopics.push(...topics);

  /** One run of the bare producer: its own warm-up, then `durationS` measured. */
  const bareRun = async (warmupS: number, durationS: number) => {
    const p = spawnNode('bare-producer', 'bench/servers/bare-producer.ts', {
      KAFKA_BROKERS: iso.env.KAFKA_BROKERS!,
      TOPIC_PREFIX: prefix,
      BATCH: String(settings.batch),
      ORDERS_RATIO: String(settings.ordersRatio),
      KEYS: String(settings.keys),
      WARMUP_S: String(warmupS),
      DURATION_S: String(durationS),
    }, nodeArgs('bare-producer'));
    watch(p);
    // It prints "measuring" when its warm-up ends; the CPU window starts there.
    await waitFor(async () => p.output().includes('measuring') || p.child.exitCode !== null, { timeoutMs: 120_000, intervalMs: 50, what: 'bare producer warm-up' });
    const c0 = sampler.sample();
    // And "measured" when it ends, before flushing and exiting: sample while it is still alive.
    await waitFor(async () => p.output().includes('measured') || p.child.exitCode !== null, { timeoutMs: 120_000, intervalMs: 50, what: 'bare producer measurement' });
    const c1 = sampler.sample();
    await p.exited;
    await stop(p);
    const line = p.output().trim().split('\n').filter((l) => l.startsWith('{')).pop();
    if (!line) throw new Error(`bare producer printed no result:\n${p.output()}`);
    const res = JSON.parse(line) as { recordsPerS: number; failed: number; queueFull: number; recordBytes: number; cores: number };
    const cpuCores = cpuWindow(c0, c1);
    // It may exit before the last /proc sample; its own process.cpuUsage() (all threads) is exact.
    cpuCores['bare-producer'] = round(res.cores);
    cpuCores.other = round(Math.max(0, (cpuCores.other ?? 0) - res.cores));
    return { res, cpuCores };
  };

  // Alternating rounds (gateway, bare, bare, gateway, ...), as for a and c: both sides see the
  // same drift of the machine. The gateway stays up; the bare producer is one process per round.
  const gw = await server('gateway-b', 'gateway/main.ts', gatewayEnv(iso), '/readyz');
  const gatewayTitle = `gateway: batch POST of ${settings.batch} events`;
  const roundS = settings.measureS / settings.rounds;
  const gwRounds: Window[] = [];
  const bareRounds: Awaited<ReturnType<typeof bareRun>>[] = [];
  try {
    log(`b-gateway: ${gatewayTitle}: warm-up ${settings.warmupS} s`);
    await runLoad({ url: gw.url, connections: settings.connections, rate: settings.offeredBatch, durationS: settings.warmupS, phases: settings.phases, requests });
    log(`b-gateway / b-bare: ${settings.rounds} rounds of ${round(roundS)} s each, alternating`);
    for (let i = 0; i < settings.rounds; i++) {
      for (const side of i % 2 === 0 ? ['gateway', 'bare'] : ['bare', 'gateway']) {
        if (side === 'bare') bareRounds.push(await bareRun(i === 0 ? settings.warmupS : 1, roundS));
        else gwRounds.push(await measureWindow(`b-gateway round ${i + 1}`, gatewayTitle, gw.url, requests, settings.batch, settings.offeredBatch, roundS));
      }
    }
  } finally {
    await stop(gw.proc);
  }
  const gateway = combineRounds('b-gateway', gwRounds, 'b-bare', roundS);
  const failed = bareRounds.reduce((a, r) => a + r.res.failed, 0);
  const rate = mean(bareRounds.map((r) => r.res.recordsPerS));
  const cores = mean(bareRounds.map((r) => r.res.cores));
  log(`b-bare: ${round(rate)} records/s at ${round(cores)} cores, ${round(bareRounds[0]!.res.recordBytes)} bytes per record`);
  const producer: LegResult = {
    id: 'b-bare',
    title: 'bare librdkafka producer: pre-encoded records, same settings and in-flight bound',
    kind: 'producer',
    unit: 'events/s',
    value: rate,
    eventsPerS: rate,
    valid: failed === 0,
    invalid: failed ? [`${failed} records failed`] : [],
    notes: [
      `${round(bareRounds[0]!.res.recordBytes)} bytes per record on average; librdkafka queue full ${bareRounds.reduce((a, r) => a + r.res.queueFull, 0)} times; the producer process used ${round(cores)} cores (librdkafka threads included).`,
      `Mean of ${bareRounds.length} runs of ${round(roundS)} s alternated with b-gateway: ${bareRounds.map((r) => round(r.res.recordsPerS)).join(', ')} records/s.`,
    ],
    durationS: settings.measureS,
    cpuCores: meanCores(bareRounds.map((r) => r.cpuCores)),
    throughputSeries: [],
  };
  noteRounds(gateway, producer, gwRounds.map((w, i) => w.leg.value / bareRounds[i]!.res.recordsPerS));
  return [gateway, producer];
}

/** Fills a stack's topics through its gateway (batch endpoint), collecting acknowledged ids. */
async function fillBacklog(url: string, runId: string): Promise<{ accepted: Set<string>; acceptedOrders: Set<string>; statuses: Map<number, number>; seconds: number }> {
  const w = validateWorkload({ runId, batch: settings.batch, ordersRatio: settings.ordersRatio, keys: settings.keys });
  const accepted = new Set<string>();
  const acceptedOrders = new Set<string>();
  const statuses = new Map<number, number>();
  const topics = new Map<number, string>();
  const requests = Math.ceil(settings.backlogEvents / settings.batch);
  const t0 = Date.now();
  await runLoad({
    url,
    connections: Math.min(settings.connections, requests),
    rate: settings.offeredBatch,
    durationS: 600,
    amount: requests,
    phases: 1,
    requests: (seq) => {
      const r = planRequest(w, seq);
      topics.set(seq, r.topic);
      return r;
    },
    onAnswer: (seq, status, body) => {
      statuses.set(seq, status);
      for (const id of idsOfAnswer(status, body).accepted) {
        accepted.add(id);
        if (topics.get(seq) === 'orders') acceptedOrders.add(id);
      }
    },
  });
  return { accepted, acceptedOrders, statuses, seconds: (Date.now() - t0) / 1000 };
}

/**
 * The failure plan for leg e, installed in both drain legs so they differ only in the plan:
 * a trigger on order_history that, for the ~1% of event ids whose hashtext() is a multiple of
 * 100 and that are in bench_fail_plan, fails the insert the first time (a sequence per planned
 * event counts attempts: nextval is not rolled back with the failing statement). The WHEN
 * clause is evaluated in C, so the other 99% of rows pay one hash and no function call.
 */
let failureSequences = 0;

async function installFailurePlan(sql: postgres.Sql, plannedIds: string[]): Promise<void> {
  await sql.unsafe(`
    CREATE TABLE IF NOT EXISTS bench_fail_plan (event_id uuid PRIMARY KEY, seq text NOT NULL);
    CREATE OR REPLACE FUNCTION bench_fail_planned() RETURNS trigger AS $$
    DECLARE s text;
    BEGIN
      SELECT seq INTO s FROM bench_fail_plan WHERE event_id = NEW.event_id;
      IF FOUND AND nextval(s) <= 1 THEN
        RAISE EXCEPTION 'planned failure for event %', NEW.event_id USING ERRCODE = 'P0001';
      END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql;
    DROP TRIGGER IF EXISTS bench_fail_planned ON order_history;
    CREATE TRIGGER bench_fail_planned BEFORE INSERT ON order_history FOR EACH ROW
      WHEN (hashtext(NEW.event_id::text) % 100 = 0) EXECUTE FUNCTION bench_fail_planned();`);
  for (let i = 0; i < plannedIds.length; i++) {
    // A sequence per planned event, never reused: a second drain of the same stack plans afresh.
    const seq = `bench_fail_${failureSequences++}`;
    await sql.unsafe(`CREATE SEQUENCE IF NOT EXISTS ${seq}`);
    await sql`INSERT INTO bench_fail_plan VALUES (${plannedIds[i]!}, ${seq}) ON CONFLICT DO NOTHING`;
  }
}

async function hashSelected(sql: postgres.Sql, ids: string[]): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`SELECT id::text AS id FROM unnest(${ids}::uuid[]) AS id WHERE hashtext(id::text) % 100 = 0`;
  return rows.map((r) => r.id);
}

/** A drain leg: a backlog through the gateway, then one worker drains it while we watch. */
interface Running {
  gateway?: { proc: Child; url: string };
  worker?: Child;
  /** The analytics worker, with --split-groups. */
  analytics?: Child;
  workerMetricsUrl?: string;
  workerMetrics?: string;
}

async function drainLeg(iso: Isolated, id: 'd-drain' | 'e-drain-failures', keepRunning: boolean): Promise<{ leg: LegResult } & Running> {
  const failures = id === 'e-drain-failures';
  const letter = id.slice(0, 1);
  const gw = await server(`gateway-${letter}`, 'gateway/main.ts', gatewayEnv(iso), '/readyz');
  const runId = newRunId('bk');
  log(`${id}: filling a backlog of ${settings.backlogEvents} events through the gateway`);
  const backlog = await fillBacklog(gw.url, runId);
  const n = backlog.accepted.size;
  const planned = failures ? await hashSelected(iso.sql, [...backlog.acceptedOrders]) : [];
  await installFailurePlan(iso.sql, planned);
  log(`${id}: ${n} events accepted in ${round(backlog.seconds)} s${failures ? `; ${planned.length} order events (${round((100 * planned.length) / backlog.acceptedOrders.size)}% of PostgreSQL writes) will fail once` : ''}; starting the worker`);

  const watcher = new AppliedWatcher(iso.env.REDIS_URL!, iso.env.REDIS_PREFIX!);
  await watcher.start();
  let applied = 0;
  watcher.onNew((eid) => {
    if (backlog.accepted.has(eid)) applied++;
  });
  // Both consumer groups: the read model's and the analytics one.
  const groupIds = [`${iso.env.FERRY_TOPIC_PREFIX}ferry-workers`, `${iso.env.FERRY_TOPIC_PREFIX}ferry-workers-analytics`];
  const topics = [iso.topic('orders'), iso.topic('page_views')];
  const t0 = Date.now();
  // The whole drain's CPU, from before the worker starts until the lag is 0 (drainCpuUsPerEvent).
  const c0 = sampler.sample();
  const metricsPort = await freePort();
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  // --split-groups: the read model and analytics each in a worker process of its own (WORKER_GROUPS).
  const split = settings.splitGroups;
  const worker = watch(spawnNode(`worker-${letter}`, 'workers/main.ts', { ...workerEnv(iso), WORKER_METRICS_PORT: String(metricsPort), ...(split ? { WORKER_GROUPS: 'read-model' } : {}) }, nodeArgs(`worker-${letter}`)));
  const analytics = split
    ? watch(spawnNode(`analytics-${letter}`, 'workers/main.ts', { ...workerEnv(iso), WORKER_METRICS_PORT: String(await freePort()), WORKER_GROUPS: 'analytics' }, nodeArgs(`analytics-${letter}`)))
    : undefined;
  const appliedSeries: { t: number; n: number }[] = [];
  /** When each group's channel had announced the whole backlog. */
  const groupDone = new Map<string, number>();
  const lagSeries: Point[] = [];
  let c10: CpuSample | undefined;
  let committedAt: number | undefined;
  const deadline = t0 + settings.drainTimeoutS * 1000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const t = Date.now() - t0;
    appliedSeries.push({ t, n: applied });
    for (const c of AppliedWatcher.CHANNELS) if (!groupDone.has(c) && (watcher.heard.get(c) ?? 0) >= n) groupDone.set(c, t);
    if (!c10 && applied >= 0.1 * n) c10 = sampler.sample();
    if (appliedSeries.length % 2 === 0 || applied >= n) {
      const lag = await Promise.all(groupIds.map((g) => kafka.lag(g, topics))).then((ls) => ls.reduce((a, b) => a + b, 0), () => Number.NaN);
      lagSeries.push({ t: t / 1000, v: lag });
      if (applied >= n && lag === 0) {
        committedAt = t;
        break;
      }
    }
    for (const w of [worker, analytics]) if (w && w.child.exitCode !== null) throw new Error(`${w.name} exited:\n${w.output()}`);
  }
  const c100 = sampler.sample();
  const workerMetrics = await scrape(metricsUrl);
  watcher.close();
  const { rate, fromT, toT } = rateBetween(appliedSeries, Math.ceil(0.1 * n), n);
  const complete = applied >= n;
  const firstProgress = appliedSeries.find((s) => s.n > 0)?.t ?? Number.NaN;

  // Every acknowledged event exactly once, retries included.
  const tag = tagOf(runId);
  const pg = await readPostgres(iso.sql, tag);
  const ch = await readClickhouse(iso.clickhouse, tag, backlog.accepted);
  const outcome = (seq: number) => (backlog.statuses.has(seq) ? outcomeOf(backlog.statuses.get(seq)!) : undefined);
  const pgV = checkSink(backlog.acceptedOrders, { copies: pg.copies, traceOf: (x) => pg.trace.get(x) }, outcome);
  const chV = checkSink(backlog.accepted, { copies: ch.final, rawCopies: ch.raw, traceOf: (x) => ch.trace.get(x) }, outcome);
  let failed = 0;
  if (failures) {
    // Only this drain's plan: a second drain of the same stack adds a plan of its own.
    const [row] = await iso.sql<{ n: string }[]>`
      SELECT count(*) AS n FROM bench_fail_plan p JOIN pg_sequences s ON s.sequencename = p.seq
      WHERE p.event_id = ANY(${planned}::uuid[]) AND s.last_value IS NOT NULL`;
    failed = Number(row!.n);
  }

  const invalid: string[] = [];
  if (!complete) invalid.push(`not drained within ${settings.drainTimeoutS} s (${applied} of ${n} applied)`);
  if (!(n > 0)) invalid.push('empty backlog');
  else if (!Number.isFinite(rate)) invalid.push('drained too fast to measure a rate: make the backlog larger');
  const cpuCores = c10 ? cpuWindow(c10, c100) : {};
  const drainCpuUsPerEvent = n > 0 ? wholeDrainCpu(c0, c100, n) : undefined;
  log(`${id}: ${round(rate)} events/s from 10% to 100% drained; read model done ${round((groupDone.get('applied') ?? Number.NaN) / 1000)} s, analytics ${round((groupDone.get('applied:analytics') ?? Number.NaN) / 1000)} s, offsets committed ${committedAt !== undefined ? `${round(committedAt / 1000)} s` : 'never'} after the worker started; check ${pgV.ok && chV.ok ? 'OK' : 'FAILED'}`);
  const leg: LegResult = {
    id,
    title: failures ? 'worker drain, 1% of PostgreSQL writes failing once (retried)' : 'worker drain: every sink written',
    kind: 'drain',
    unit: 'events/s',
    value: rate,
    eventsPerS: rate,
    valid: invalid.length === 0,
    invalid,
    notes: [
      `Backlog of ${n} events (${backlog.acceptedOrders.size} orders) filled through the gateway in ${round(backlog.seconds)} s, then one worker started.`,
      `Rate between 10% and 100% applied (${round(fromT / 1000)} s to ${round(toT / 1000)} s after start; first progress at ${round(firstProgress / 1000)} s), from the workers' applied-events channels (both consumer groups announced it: every sink written).`,
      `Announced whole by the read-model group ${groupDone.has('applied') ? `${round(groupDone.get('applied')! / 1000)} s` : 'never'}, by the analytics group ${groupDone.has('applied:analytics') ? `${round(groupDone.get('applied:analytics')! / 1000)} s` : 'never'} after the worker started.`,
      `Consumer group lag reached 0 (offsets committed) ${committedAt !== undefined ? `${round(committedAt / 1000)} s` : 'never'} after the worker started.`,
      ...(failures ? [`${planned.length} planned failures, ${failed} of them hit.`] : []),
    ],
    durationS: (toT - fromT) / 1000,
    cpuCores,
    drainCpuUsPerEvent,
    wholeDrainEventsPerS: committedAt !== undefined && committedAt > 0 ? n / (committedAt / 1000) : undefined,
    throughputSeries: perSecond(appliedSeries),
    lagSeries,
    metrics: workerMetrics ? digests(workerMetrics, undefined, WORKER_HISTOGRAMS) : undefined,
    check: {
      ok: pgV.ok && chV.ok,
      lost: pgV.lost + chV.lost,
      duplicates: pgV.duplicates + chV.duplicates,
      phantoms: pgV.phantoms + chV.phantoms,
      mergePending: chV.mergePendingDuplicates,
      detail: { postgres: pgV, clickhouse: chV },
    },
  };
  if (!leg.check!.ok) {
    leg.valid = false;
    leg.invalid.push(`checker: lost ${leg.check!.lost}, duplicates ${leg.check!.duplicates}, phantoms ${leg.check!.phantoms}`);
  }
  if (keepRunning) {
    if (args.profile) leg.notes.push('The worker keeps running for leg f, so its profile covers both legs.');
    return { leg, gateway: gw, worker, analytics, workerMetricsUrl: metricsUrl, workerMetrics };
  }
  await Promise.all([stop(gw.proc), stop(worker), stop(analytics)]);
  return { leg };
}

/**
 * CPU per drained event of each process, both drains: the drain rate is bounded by the whole
 * machine, so this says which process a change (or 1 % of failing writes) made work harder.
 */
function cpuPerEventNote(first: LegResult, second: LegResult): string {
  const names = ['worker', 'analytics', 'postgresql', 'clickhouse', 'redis', 'kafka'];
  // Processes are named per leg (`worker-d`, `worker-e`): match by prefix.
  const find = (m: Record<string, number> | undefined, name: string) => Object.entries(m ?? {}).find(([k]) => k === name || k.startsWith(`${name}-`))?.[1];
  const both = (get: (leg: LegResult, name: string) => number | undefined) =>
    names.flatMap((n) => {
      const [a, b] = [get(first, n), get(second, n)];
      return a === undefined && b === undefined ? [] : [`${n} ${a ?? '-'} / ${b ?? '-'}`];
    }).join(', ');
  const inWindow = both((leg, n) => {
    const cores = find(leg.cpuCores, n);
    return cores !== undefined && leg.value > 0 ? round((cores / leg.value) * 1e6) : undefined;
  });
  const whole = both((leg, n) => find(leg.drainCpuUsPerEvent, n));
  return `CPU per drained event (µs of a core) in the rate's window, first / second drain: ${inWindow}; over the whole drain (worker start to lag 0, per backlog event): ${whole}.`;
}

/** µs of CPU per backlog event for each process between two samples; a process started between them began at 0. */
function wholeDrainCpu(a: CpuSample, b: CpuSample, events: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, s] of Object.entries(b.cpuS)) {
    if (name === 'machine total' || name === 'load generator') continue;
    const used = s - (a.cpuS[name] ?? 0);
    if (used >= 0) out[name] = round((used / events) * 1e6);
  }
  return out;
}

/** Two drains of one leg as one: the mean rate, both valid or not, and a note with each drain. */
function meanOfDrains(first: LegResult, second: LegResult, order: string): LegResult {
  return {
    ...first,
    value: (first.value + second.value) / 2,
    eventsPerS: ((first.eventsPerS ?? first.value) + (second.eventsPerS ?? second.value)) / 2,
    valid: first.valid && second.valid,
    invalid: [...first.invalid, ...second.invalid.map((r) => `second drain: ${r}`)],
    // The CPU goes with the rate it produced: both drains' mean, as the value is.
    cpuCores: meanCores([first.cpuCores, second.cpuCores]),
    drainCpuUsPerEvent: first.drainCpuUsPerEvent && second.drainCpuUsPerEvent ? meanCores([first.drainCpuUsPerEvent, second.drainCpuUsPerEvent]) : undefined,
    wholeDrainEventsPerS: first.wholeDrainEventsPerS && second.wholeDrainEventsPerS ? (first.wholeDrainEventsPerS + second.wholeDrainEventsPerS) / 2 : undefined,
    notes: [
      `Mean of two drains run in the order ${order}: ${round(first.value)} and ${round(second.value)} events/s (CPU cores: the mean of both; the details below are the first drain's); whole drains, start-up included: ${round(first.wholeDrainEventsPerS ?? Number.NaN)} and ${round(second.wholeDrainEventsPerS ?? Number.NaN)} events/s.`,
      cpuPerEventNote(first, second),
      ...first.notes,
      ...second.notes.filter((n) => n.includes('planned failures')).map((n) => `Second drain: ${n}`),
    ],
  };
}

function perSecond(series: { t: number; n: number }[]): Point[] {
  const out: Point[] = [];
  let last = 0;
  for (let s = 1; ; s++) {
    const at = series.filter((p) => p.t <= s * 1000).pop();
    if (!at) break;
    out.push({ t: s, v: at.n - last });
    last = at.n;
    if (at === series[series.length - 1]) break;
  }
  return out;
}

/**
 * What the whole pipeline sustains on this machine: single-event POSTs far above capacity for
 * a while, with the worker running, then the time until every accepted event is in the sinks.
 * Gateway and worker share the cores here, so this is below both a and d alone.
 */
async function pipelineSustained(iso: Isolated, running: Running): Promise<{ rate: number; note: string }> {
  const durationS = quick ? 3 : 10;
  log(`f: the whole pipeline's sustained rate: single events offered far above capacity for ${durationS} s, then the drain`);
  const r = await runLoadtest({
    url: running.gateway!.url,
    connections: settings.connections,
    rate: settings.offeredSingle,
    durationS,
    phases: settings.phases,
    batch: 1,
    ordersRatio: settings.ordersRatio,
    keys: settings.keys,
    sinks: { databaseUrl: iso.env.DATABASE_URL!, clickhouseUrl: iso.env.CLICKHOUSE_URL!, redisUrl: iso.env.REDIS_URL!, redisPrefix: iso.env.REDIS_PREFIX! },
    drainTimeoutS: settings.drainTimeoutS,
  });
  const seconds = r.load.durationS + r.drain.afterLoadS;
  const rate = r.drain.complete ? r.events.accepted / seconds : Number.NaN;
  const note = `The whole pipeline (gateway and worker on this machine's 2 cores) sustained ${round(rate)} events/s: ${r.events.accepted} accepted in ${round(r.load.durationS)} s at saturation, all in PostgreSQL and ClickHouse ${round(r.drain.afterLoadS)} s after the load ended; check ${r.check.ok ? 'OK' : 'FAILED'}.`;
  log(`f: ${note}`);
  return { rate, note };
}

async function legF(iso: Isolated, running: Running, rate: number): Promise<LegResult> {
  const gateway = running.gateway!;
  log(`f: end-to-end at ${round(rate)} req/s (half the sustained rate), warm-up ${settings.fWarmupS} s, measuring ${settings.fMeasureS} s`);
  const g0 = await scrape(`${gateway.url}/metrics`);
  const w0 = await scrape(running.workerMetricsUrl);
  const c0 = sampler.sample();
  const r = await runLoadtest({
    url: gateway.url,
    connections: settings.connections,
    rate: Math.max(1, Math.round(rate)),
    durationS: settings.fMeasureS,
    warmupS: settings.fWarmupS,
    phases: settings.phases,
    batch: 1,
    ordersRatio: settings.ordersRatio,
    keys: settings.keys,
    sinks: { databaseUrl: iso.env.DATABASE_URL!, clickhouseUrl: iso.env.CLICKHOUSE_URL!, redisUrl: iso.env.REDIS_URL!, redisPrefix: iso.env.REDIS_PREFIX! },
    drainTimeoutS: 60,
  });
  const c1 = sampler.sample();
  const [g1, w1] = [await scrape(`${gateway.url}/metrics`), await scrape(running.workerMetricsUrl)];
  const cpuCores = cpuWindow(c0, c1);
  const invalid: string[] = [];
  loadGeneratorCheck(cpuCores, invalid);
  if (!r.check.ok) invalid.push('checker found lost, duplicated or phantom events');
  if (!r.drain.complete) invalid.push('events did not all reach the sinks');
  const e2e = r.endToEnd;
  const workerDigests = w1 ? digests(w1, w0, WORKER_HISTOGRAMS) : {};
  const ms = (name: string) => {
    const d = workerDigests[name];
    return d && d.count > 0 && Number.isFinite(d.p50) && Number.isFinite(d.p99) ? `p50 ${round(d.p50 * 1000)} / p99 ${round(d.p99 * 1000)} ms` : 'n/a';
  };
  const whereTimeGoes = `Read-model worker, from its histograms over the leg: oldest record's age when its batch's apply started (Kafka timestamp to apply) ${ms('ferry_worker_batch_wait_seconds{group="read-model"}')}; apply ${ms('ferry_worker_batch_seconds{group="read-model"}')}; of which PostgreSQL ${ms('ferry_worker_sink_write_seconds{sink="postgres"}')}, Redis ${ms('ferry_worker_sink_write_seconds{sink="redis"}')} (histogram buckets, so coarse).`;
  log(`f: ${round(r.load.requestsPerS)} req/s; end-to-end PostgreSQL p50 ${round(e2e.postgresMs.p50)} p99 ${round(e2e.postgresMs.p99)} ms; all sinks p99 ${e2e.allSinksMs ? round(e2e.allSinksMs.p99) : 'n/a'} ms; check ${r.check.ok ? 'OK' : 'FAILED'}`);
  return {
    id: 'f-end-to-end',
    title: 'end to end at half the sustained rate: single-event POSTs, worker running',
    kind: 'e2e',
    unit: 'req/s',
    value: r.load.requestsPerS,
    eventsPerS: r.load.acceptedEventsPerS,
    valid: invalid.length === 0,
    invalid,
    notes: [
      `Offered ${round(rate)} req/s${r.load.sustained ? '' : ' and NOT sustained'}; HTTP latency corrected for coordinated omission.`,
      'PostgreSQL: order_history.applied_at (clock_timestamp() at the insert, just before commit) - received_at. ClickHouse: written_at_ms (when the worker started the insert) - received_at_ms. All sinks: when both consumer groups (read model, analytics) had announced the event on their applied channels, as heard by this process.',
      whereTimeGoes,
    ],
    offered: rate,
    connections: settings.connections,
    durationS: r.load.durationS,
    latencyMs: r.load.latencyMs,
    latencyCorrectedMs: r.load.latencyCorrectedMs,
    distribution: r.load.latencyDistribution,
    statusCounts: r.load.statusCounts,
    errors: r.load.connectionErrors,
    cpuCores,
    throughputSeries: r.timeline.filter((p) => p.answered > 0).map((p) => ({ t: p.t, v: p.answered })),
    lagSeries: r.timeline.map((p) => ({ t: p.t, v: p.accepted - p.applied })),
    endToEnd: e2e,
    metrics: { ...(g1 ? digests(g1, g0, GATEWAY_HISTOGRAMS) : {}), ...workerDigests },
    check: {
      ok: r.check.ok,
      lost: r.check.postgres.lost + r.check.clickhouse.lost,
      duplicates: r.check.postgres.duplicates + r.check.clickhouse.duplicates,
      phantoms: r.check.postgres.phantoms + r.check.clickhouse.phantoms,
      mergePending: r.check.clickhouseRaw.mergePendingDuplicates,
      detail: r.check,
    },
  };
}

async function tryBridge(): Promise<BenchResult['bridge']> {
  const libs = `${root}bench/.dist/kafka-bridge/libs`;
  const tried: string[] = [];
  const has = () => existsSync(libs) && readdirSync(libs).some((f) => /^kafka-bridge-.*\.jar$/.test(f));
  if (!has()) {
    const cmd = ['-B', '-q', '-U', '-f', `${root}bench/bridge/pom.xml`, 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${libs}`];
    tried.push(`mvn ${cmd.join(' ').replace(root, '')}`);
    try {
      execFileSync('mvn', cmd, { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      const out = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`;
      const line = out.split('\n').find((l) => l.includes('ERROR'))?.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '').trim() ?? (err as Error).message;
      tried.push(`-> ${line.slice(0, 400)}`);
    }
    const meta = 'https://repo.maven.apache.org/maven2/io/strimzi/kafka-bridge/maven-metadata.xml';
    const status = await fetch(meta, { signal: AbortSignal.timeout(20_000) }).then((r) => String(r.status)).catch((e: Error) => e.message);
    tried.push(`GET ${meta} -> ${status}`);
  }
  if (!has()) return { available: false, tried, outcome: 'not run: io.strimzi:kafka-bridge does not resolve from Maven Central as this machine reaches it (every version, its POM and its metadata answer 404 here, although central.sonatype.com lists 0.32.0).' };
  return { available: true, tried, outcome: 'jars present in bench/.dist/kafka-bridge/libs, but the bridge legs are not implemented: see docs/benchmarks.md.' };
}

function ratio(legs: Map<string, LegResult>, id: string, title: string, num: string, den: string | undefined, target: number, direction: '>=' | '<=', value?: (n: LegResult, d?: LegResult) => number, unit?: string): Ratio {
  const n = legs.get(num);
  const d = den ? legs.get(den) : undefined;
  const missing = [num, den].filter((x): x is string => x !== undefined && !legs.has(x));
  const bad = [n, d].filter((l): l is LegResult => l !== undefined && !l.valid).map((l) => l.id);
  const v = n && (!den || d) ? (value ? value(n, d) : n.value / d!.value) : Number.NaN;
  const why = missing.length ? `leg ${missing.join(', ')} not run` : bad.length ? `leg ${bad.join(', ')} invalid` : undefined;
  const met = why || !Number.isFinite(v) ? null : direction === '>=' ? v >= target : v <= target;
  return { id, title, numerator: num, denominator: den, value: v, target, direction, unit, met, why };
}

function machine(): Machine {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    cpuModel = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? cpuModel;
  } catch {
    // not Linux
  }
  return { nproc: cpus().length, memoryGiB: totalmem() / 2 ** 30, cpuModel, kernel: `Linux ${release()}`, node: process.version, loadAverageStart: loadavg(), loadAverageEnd: [] };
}

async function main(): Promise<void> {
  const started = Date.now();
  const m = machine();
  log(`${quick ? 'quick' : 'full'} benchmark${args.profile ? ' (profiled)' : ''}, legs ${[...legsWanted].join(',')}; results in ${runDir}`);
  const legs = new Map<string, LegResult>();
  const add = (ls: LegResult[]) => ls.forEach((l) => legs.set(l.id, l));

  const needsThroughput = ['a', 'b', 'c'].some((l) => legsWanted.has(l));
  const [isoT, isoD, isoE] = await Promise.all([
    needsThroughput ? stack() : undefined,
    legsWanted.has('d') || legsWanted.has('f') ? stack() : undefined,
    legsWanted.has('e') ? stack() : undefined,
  ]);
  if (legsWanted.has('a')) add(await legA(isoT!));
  if (legsWanted.has('c')) add(await legC(isoT!));
  if (legsWanted.has('b')) add(await legB(isoT!));

  let running: Running = {};
  if (legsWanted.has('d') || legsWanted.has('f')) {
    const d = await drainLeg(isoD!, 'd-drain', legsWanted.has('f'));
    add([d.leg]);
    running = d;
  }
  if (legsWanted.has('f') && running.gateway) {
    const gatewayRate = legs.get('a-gateway')?.valid ? legs.get('a-gateway')!.value : Number.NaN;
    const drainRate = legs.get('d-drain')?.valid ? legs.get('d-drain')!.value : Number.NaN;
    const pipeline = await pipelineSustained(isoD!, running);
    const sustained = Math.min(...[gatewayRate, drainRate, pipeline.rate].filter(Number.isFinite));
    if (Number.isFinite(sustained)) {
      const pinned = args['f-rate'] !== undefined ? Number(args['f-rate']) : undefined;
      const f = await legF(isoD!, running, pinned ?? sustained / 2);
      f.notes.push(pipeline.note, `Half the sustained rate: ½ · min(a ${round(gatewayRate)}, d ${round(drainRate)}, whole pipeline ${round(pipeline.rate)}).`);
      if (pinned !== undefined) f.notes.push(`Offered rate pinned with --f-rate ${pinned} (for comparing runs), not half the sustained rate.`);
      add([f]);
    } else log('f: skipped: no valid sustained rate from legs a and d');
  }
  await Promise.all([stop(running.gateway?.proc), stop(running.worker), stop(running.analytics)]);
  if (legsWanted.has('e')) {
    const e1 = (await drainLeg(isoE!, 'e-drain-failures', false)).leg;
    if (legsWanted.has('d') && !quick) {
      // d and e alternate as d e e d (each a fresh backlog on its own stack), so that drift of the
      // shared machine falls on both alike; each side is the mean of its two drains.
      const e2 = (await drainLeg(isoE!, 'e-drain-failures', false)).leg;
      const d2 = (await drainLeg(isoD!, 'd-drain', false)).leg;
      add([meanOfDrains(legs.get('d-drain')!, d2, 'd e e d'), meanOfDrains(e1, e2, 'd e e d')]);
    } else add([e1]);
  }

  const ratios: Ratio[] = [
    ratio(legs, 'a', 'gateway single-event req/s / bare Hono handler', 'a-gateway', 'a-bare', 0.8, '>='),
    ...(legs.has('a-gateway-production') ? [ratio(legs, 'a (production)', 'informational: the same with NODE_ENV=production (API key, no CORS) / bare', 'a-gateway-production', 'a-bare', 0.8, '>=')] : []),
    ...(legs.has('a-bare-node-body') ? [ratio(legs, 'a (same body path)', 'informational: gateway / a bare handler reading the body as the gateway does', 'a-gateway', 'a-bare-node-body', 0.8, '>=')] : []),
    ratio(legs, 'b', 'gateway batch events/s / bare librdkafka producer', 'b-gateway', 'b-bare', 0.6, '>='),
    ratio(legs, 'c', '202 after Kafka ack / 202 after enqueue (req/s)', 'c-ack', 'c-enqueue', 0.85, '>='),
    ratio(legs, 'd', 'worker drain events/s / gateway sustained ingest events/s (b)', 'd-drain', 'b-gateway', 1.5, '>='),
    ...(legs.has('d-drain') && legs.has('b-gateway')
      ? [
          ratio(legs, 'd (ceiling)', `informational: the most any worker could drain here (${m.nproc} cores / the stores' and Kafka's CPU per event over the whole d drain) / b`, 'd-drain', 'b-gateway', 1.5, '>=', (n, d) => drainCeiling(n.drainCpuUsPerEvent, m.nproc).eventsPerS / d!.value),
          ratio(legs, 'd (whole drain)', 'informational: the backlog over the time from the worker\'s start to both groups\' lag 0 (start-up included) / b', 'd-drain', 'b-gateway', 1.5, '>=', (n, d) => (n.wholeDrainEventsPerS ?? Number.NaN) / d!.value),
        ]
      : []),
    ...(legs.has('d-drain') && legs.has('a-gateway')
      ? [ratio(legs, 'd (single events)', 'informational: worker drain events/s / gateway single-event ingest (a), one event per request as browsers send', 'd-drain', 'a-gateway', 1.5, '>=')]
      : []),
    ratio(legs, 'e', 'drain with 1% PostgreSQL failures / without', 'e-drain-failures', 'd-drain', 0.95, '>='),
    ratio(legs, 'f', 'end-to-end p99 to PostgreSQL at half the sustained rate', 'f-end-to-end', undefined, 50, '<=', (n) => n.endToEnd?.postgresMs.p99 ?? Number.NaN, 'ms'),
  ];
  m.loadAverageEnd = loadavg();
  const result: BenchResult = {
    mode: quick ? 'quick' : 'full',
    profiled: Boolean(args.profile),
    startedAt: new Date(started).toISOString(),
    durationS: (Date.now() - started) / 1000,
    machine: m,
    settings,
    legs: [...legs.values()],
    ratios,
    // After the legs: Maven's JVM would otherwise compete with them for the CPU.
    bridge: quick ? { available: false, tried: [], outcome: 'not tried in quick mode' } : await tryBridge(),
    ...(args.profile ? { profiles } : {}),
    commands: [
      'bash scripts/services.sh start',
      quick ? 'npm run bench:quick' : `npm run bench${args.profile ? ' -- --profile' : ''}`,
      'npm run loadtest -- --url http://127.0.0.1:8080 -R 1000 -c 32 -d 30   # against a running pipeline',
    ],
  };
  const md = renderMarkdown(result);
  writeFileSync(`${runDir}/result.json`, JSON.stringify({ ...result, cpuSamples: sampler.samples }, null, 2));
  writeFileSync(`${runDir}/report.html`, renderHtml(result));
  writeFileSync(`${runDir}/table.md`, `${md}\n`);
  for (const [f, to] of [['result.json', 'latest.json'], ['report.html', 'latest.html'], ['table.md', 'latest.md']] as const) copyFileSync(`${runDir}/${f}`, `${outDir}/${quick ? 'quick-' : ''}${to}`);
  process.stdout.write(`${md}\n\nwrote ${runDir}/result.json, report.html, table.md\n`);
}

let exitCode = 0;
try {
  await main();
} catch (err) {
  exitCode = 1;
  log(`failed: ${(err as Error).stack ?? String(err)}`);
} finally {
  sampler.stop();
  for (const p of live) await p.stop('SIGKILL');
  for (const c of cleanups.reverse()) await c().catch((err: Error) => log(`cleanup: ${err.message}`));
  if (benchTopics.length) await kafka.deleteTopics(benchTopics).catch((err: Error) => log(`deleting topics: ${err.message}`));
  await kafka.close().catch(() => {});
}
process.exit(exitCode);
