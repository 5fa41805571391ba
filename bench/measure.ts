/** How the HTTP legs (a, b, c) measure: warm-up, measured windows, alternated rounds, CPU and metrics. */
import type { LegResult } from './bench-result.ts';
import type { BenchContext } from './context.ts';
import { type CpuSample, CpuSampler } from './cpu.ts';
import { type FixedRequest, type LoadResult, runLoad } from './load.ts';
import { digests } from './prom.ts';
import { round } from './stats.ts';
import { newRunId, planRequest, validateWorkload } from './workload.ts';

export function cpuWindow(a: CpuSample, b: CpuSample): Record<string, number> {
  const cores = CpuSampler.between(a, b).cores;
  return Object.fromEntries(Object.entries(cores).map(([k, v]) => [k, round(v)]));
}

export function loadGeneratorCheck(ctx: BenchContext, cores: Record<string, number>, invalid: string[]): void {
  const lg = cores['load generator'] ?? 0;
  if (lg > ctx.settings.loadGeneratorLimitCores) {
    invalid.push(
      `load generator used ${round(lg)} cores (> ${ctx.settings.loadGeneratorLimitCores} of one core): the client, not the server, may be the limit`,
    );
  }
}

/** The /metrics page of a process, or undefined when it has none. */
export async function scrape(url: string | undefined): Promise<string | undefined> {
  if (!url) return undefined;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

export const GATEWAY_HISTOGRAMS = ['ferry_gateway_produce_duration_seconds', 'ferry_gateway_http_request_duration_seconds'];
export const WORKER_HISTOGRAMS = [
  'ferry_worker_batch_wait_seconds',
  'ferry_worker_batch_seconds',
  'ferry_worker_batch_size',
  'ferry_worker_sink_write_seconds',
  'ferry_worker_sink_batch_size',
];

/** A pool of fixed requests (built once, the cheapest for the load generator). */
export function pool(ctx: BenchContext, batch: number, n: number): FixedRequest[] {
  const w = validateWorkload({ runId: newRunId('p'), batch, ordersRatio: ctx.settings.ordersRatio, keys: ctx.settings.keys });
  return Array.from({ length: n }, (_, seq) => planRequest(w, seq)).map(({ path, body }) => ({ path, body }));
}

/** A saturation leg: warm up, then measure answered 2xx per second with the same settings every time. */
export async function httpLeg(
  ctx: BenchContext,
  id: string,
  title: string,
  url: string,
  requests: FixedRequest[],
  eventsPerRequest: number,
  offered: number,
  headers: Record<string, string> = {},
): Promise<LegResult> {
  ctx.log(`${id}: ${title}: warm-up ${ctx.settings.warmupS} s`);
  await runLoad({ url, connections: ctx.settings.connections, rate: offered, durationS: ctx.settings.warmupS, phases: ctx.settings.phases, requests, headers });
  ctx.log(`${id}: measuring ${ctx.settings.measureS} s`);
  const w = await measureWindow(ctx, id, title, url, requests, eventsPerRequest, offered, ctx.settings.measureS, headers);
  if (w.m1) w.leg.metrics = digests(w.m1, w.m0, GATEWAY_HISTOGRAMS);
  return w.leg;
}

/** One measured saturation window, with the CPU of every process and the server's metrics page before and after. */
export interface Window {
  leg: LegResult;
  m0?: string;
  m1?: string;
}

export async function measureWindow(
  ctx: BenchContext,
  id: string,
  title: string,
  url: string,
  requests: FixedRequest[],
  eventsPerRequest: number,
  offered: number,
  durationS: number,
  headers: Record<string, string> = {},
): Promise<Window> {
  const m0 = await scrape(`${url}/metrics`);
  const c0 = ctx.sampler.sample();
  const r = await runLoad({ url, connections: ctx.settings.connections, rate: offered, durationS, phases: ctx.settings.phases, requests, headers });
  const c1 = ctx.sampler.sample();
  const m1 = await scrape(`${url}/metrics`);
  return { leg: legFromLoad(ctx, id, title, r, eventsPerRequest, cpuWindow(c0, c1)), m0, m1 };
}

export const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export function meanCores(list: Record<string, number>[]): Record<string, number> {
  return Object.fromEntries([...new Set(list.flatMap((c) => Object.keys(c)))].map((k) => [k, round(mean(list.map((c) => c[k] ?? 0)))]));
}

/**
 * One side's alternated rounds as its leg: the mean rate and CPU of the rounds, the server's
 * histograms from the first round's start to the last round's end, latency from the first round.
 */
export function combineRounds(id: string, windows: Window[], partner: string, roundS: number): LegResult {
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
    notes: [
      ...first.notes,
      `Mean of ${legs.length} rounds of ${round(roundS)} s alternated with ${partner}: ${
        legs.map((l) => round(l.value)).join(', ')
      } ${first.unit}; latency is from the first round.`,
    ],
    throughputSeries: legs.flatMap((l) => l.throughputSeries),
  };
  const m0 = windows[0]!.m0;
  const m1 = windows[windows.length - 1]!.m1;
  if (m1) leg.metrics = digests(m1, m0, GATEWAY_HISTOGRAMS);
  return leg;
}

/** Per-round ratios, noted on the numerator and logged. */
export function noteRounds(ctx: BenchContext, num: LegResult, den: LegResult, perRound: number[]): void {
  const text = perRound.map((x) => x.toFixed(2)).join(', ');
  num.notes.push(`${num.id} / ${den.id} per round: ${text}.`);
  ctx.log(`${num.id}: ${round(num.value)} ${num.unit}; ${den.id}: ${round(den.value)} ${den.unit}; ratio per round ${text}`);
}

/** One side of a paired measurement. */
export interface PairSide {
  id: string;
  title: string;
  url: string;
  headers?: Record<string, string>;
}

/** One side of an alternated measurement, with its own requests and offered rate. */
export interface HttpSide extends PairSide {
  requests: FixedRequest[];
  eventsPerRequest: number;
  offered: number;
}

/**
 * Saturation windows of several sides in alternating rounds (A B C, C B A, A B C, ...) with
 * every server up the whole time, so that drift of a shared, noisy machine falls on all sides
 * alike instead of on whichever leg ran last. Each side is warmed up first; its warm-up and its
 * windows come back in the order of `sides`.
 */
export async function alternatingWindows(ctx: BenchContext, sides: HttpSide[]): Promise<{ warmups: LoadResult[]; windows: Window[][] }> {
  const warmups: LoadResult[] = [];
  for (const side of sides) {
    ctx.log(`${side.id}: ${side.title}: warm-up ${ctx.settings.warmupS} s`);
    warmups.push(
      await runLoad({
        url: side.url,
        connections: ctx.settings.connections,
        rate: side.offered,
        durationS: ctx.settings.warmupS,
        phases: ctx.settings.phases,
        requests: side.requests,
        headers: side.headers ?? {},
      }),
    );
  }
  const roundS = ctx.settings.measureS / ctx.settings.rounds;
  const windows: Window[][] = sides.map(() => []);
  ctx.log(`${sides.map((s) => s.id).join(' / ')}: ${ctx.settings.rounds} rounds of ${round(roundS)} s each, alternating`);
  for (let i = 0; i < ctx.settings.rounds; i++) {
    const order = sides.map((_, j) => j);
    if (i % 2 === 1) order.reverse();
    for (const j of order) {
      const side = sides[j]!;
      windows[j]!.push(
        await measureWindow(ctx, `${side.id} round ${i + 1}`, side.title, side.url, side.requests, side.eventsPerRequest, side.offered, roundS, side.headers),
      );
    }
  }
  return { warmups, windows };
}

/**
 * Two saturation legs of one ratio, measured in alternating rounds (alternatingWindows). Each
 * side's value is the mean of its rounds; the numerator's notes list the ratio of every round,
 * so the spread is visible.
 */
export async function pairedHttpLegs(
  ctx: BenchContext,
  a: PairSide,
  b: PairSide,
  requests: FixedRequest[],
  eventsPerRequest: number,
  offered: number,
): Promise<[LegResult, LegResult]> {
  const { windows } = await alternatingWindows(ctx, [a, b].map((side) => ({ ...side, requests, eventsPerRequest, offered })));
  const roundS = ctx.settings.measureS / ctx.settings.rounds;
  const legA = combineRounds(a.id, windows[0]!, b.id, roundS);
  const legB = combineRounds(b.id, windows[1]!, a.id, roundS);
  noteRounds(ctx, legA, legB, windows[0]!.map((w, i) => w.leg.value / windows[1]![i]!.leg.value));
  return [legA, legB];
}

export function legFromLoad(
  ctx: BenchContext,
  id: string,
  title: string,
  r: LoadResult,
  eventsPerRequest: number,
  cpuCores: Record<string, number>,
): LegResult {
  const invalid: string[] = [];
  const notes: string[] = [];
  loadGeneratorCheck(ctx, cpuCores, invalid);
  if (r.ok === 0) invalid.push('no 2xx answers');
  const non2xx = r.answered - r.ok;
  if (non2xx > 0) notes.push(`${non2xx} non-2xx answers (${JSON.stringify(r.statusCounts)}); only 2xx count.`);
  if (r.errors > 0) notes.push(`${r.errors} connection errors or timeouts.`);
  notes.push('Saturation leg: the offered rate is far above capacity, so latency here is queueing at saturation, not the latency figure (see f).');
  const value = r.steady.okRate;
  ctx.log(
    `${id}: ${round(value)} req/s${eventsPerRequest > 1 ? `, ${round(value * eventsPerRequest)} events/s` : ''}; load generator ${
      cpuCores['load generator']
    } cores`,
  );
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
