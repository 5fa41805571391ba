/**
 * Leg s: the whole pipeline's sustained rate with batches, on leg d's stack with its worker
 * running: the most accepted events/s, offered as batch POSTs at a fixed rate, that the
 * checker finds in every sink exactly once with p99 accepted -> written in PostgreSQL within
 * `p99LimitMs`. Found by a short search over offered rates: each trial is a load test
 * (run-loadtest.ts) at one rate; a held trial raises the floor, a missed one lowers the ceiling.
 */
import type { Isolated } from '../../support/isolation.ts';
import type { LegResult } from '../bench-result.ts';
import type { BenchContext } from '../context.ts';
import type { Running } from '../drain.ts';
import { type CpuSample, CpuSampler } from '../cpu.ts';
import { cpuWindow, loadGeneratorCheck } from '../measure.ts';
import { runLoadtest } from '../run-loadtest.ts';
import { round } from '../stats.ts';

export interface SustainedOptions {
  /** Events per request. @defaultValue 50 */
  batch?: number;
  /** A trial holds when its p99 accepted -> PostgreSQL is at most this. @defaultValue 250 */
  p99LimitMs?: number;
}

/** One load test at one offered rate. */
export interface Trial {
  offeredEventsPerS: number;
  acceptedEventsPerS: number;
  postgresP99Ms: number;
  held: boolean;
  why: string[];
  /** µs of CPU per accepted event for each process, from the load's start until the sinks had every event. */
  cpuUsPerEvent: Record<string, number>;
}

/** Each process's CPU over a window, per event: cores × seconds over the events. */
export function usPerEvent(window: { cores: Record<string, number>; seconds: number }, events: number): Record<string, number> {
  if (!(events > 0)) return {};
  return Object.fromEntries(Object.entries(window.cores).map(([name, cores]) => [name, (cores * window.seconds * 1e6) / events]));
}

/**
 * The next offered rate, or undefined when the search is done: above the best held trial and
 * below the lowest missed one, until the two are within 10 %.
 */
export function nextRate(trials: readonly Trial[]): number | undefined {
  const last = trials[trials.length - 1]!;
  const held = trials.filter((t) => t.held).map((t) => t.acceptedEventsPerS);
  const missed = trials.filter((t) => !t.held).map((t) => t.offeredEventsPerS);
  const lo = held.length ? Math.max(...held) : 0;
  const hi = missed.length ? Math.min(...missed) : Number.POSITIVE_INFINITY;
  if (Number.isFinite(hi) && lo > 0 && hi / lo <= 1.1) return undefined;
  if (!Number.isFinite(hi)) return last.offeredEventsPerS * 1.5;
  if (lo === 0) return last.offeredEventsPerS * 0.5;
  return (lo + hi) / 2;
}

export async function legS(
  ctx: BenchContext,
  iso: Isolated,
  running: Running,
  legs: ReadonlyMap<string, LegResult>,
  options: SustainedOptions = {},
): Promise<LegResult> {
  const batch = options.batch ?? 50;
  const p99LimitMs = options.p99LimitMs ?? 250;
  const maxTrials = ctx.quick ? 1 : 5;
  const durationS = ctx.quick ? 3 : 10;
  // The first guess: what the worker drained alone (leg d), as the pipeline cannot hold more.
  const drain = legs.get('d-drain');
  let rate = drain?.valid && drain.value > 0 ? drain.value * 0.6 : 5000;
  const trials: Trial[] = [];
  const c0 = ctx.sampler.sample();
  for (let i = 0; i < maxTrials; i++) {
    const requestsPerS = Math.max(1, Math.round(rate / batch));
    // The trial's CPU: from the measured load's start (after any warm-up) until the sinks hold
    // every accepted event, before the checker's own queries.
    let t0: CpuSample | undefined;
    let t1: CpuSample | undefined;
    ctx.log(`s: trial ${i + 1}: ${requestsPerS * batch} events/s offered as ${requestsPerS} batches of ${batch} a second for ${durationS} s`);
    const r = await runLoadtest({
      url: running.gateway!.url,
      connections: ctx.settings.connections,
      rate: requestsPerS,
      durationS,
      warmupS: i === 0 ? Math.min(2, durationS) : 0,
      phases: ctx.settings.phases,
      batch,
      ordersRatio: ctx.settings.ordersRatio,
      keys: ctx.settings.keys,
      sinks: { databaseUrl: iso.env.DATABASE_URL!, clickhouseUrl: iso.env.CLICKHOUSE_URL!, redisUrl: iso.env.REDIS_URL!, redisPrefix: iso.env.REDIS_PREFIX! },
      drainTimeoutS: 60,
      alongside: () => {
        t0 = ctx.sampler.sample();
        return Promise.resolve();
      },
      onDrained: () => {
        t1 = ctx.sampler.sample();
      },
    });
    const trialCpu = t0 && t1 ? usPerEvent(CpuSampler.between(t0, t1), r.events.accepted) : {};
    const p99 = r.endToEnd.postgresMs.p99;
    const why: string[] = [];
    if (!r.load.sustained) why.push('offered rate not reached');
    if (!r.check.ok) why.push('checker found lost, duplicated or phantom events');
    if (!r.drain.complete) why.push('not every accepted event reached the sinks');
    if (!(p99 <= p99LimitMs)) why.push(`p99 to PostgreSQL ${round(p99)} ms > ${p99LimitMs} ms`);
    const trial: Trial = {
      offeredEventsPerS: requestsPerS * batch,
      acceptedEventsPerS: r.load.acceptedEventsPerS,
      postgresP99Ms: p99,
      held: why.length === 0,
      why,
      cpuUsPerEvent: trialCpu,
    };
    trials.push(trial);
    ctx.log(
      `s: trial ${i + 1}: ${round(trial.acceptedEventsPerS)} events/s accepted, p99 to PostgreSQL ${round(p99)} ms: ${
        trial.held ? 'held' : `missed (${why.join('; ')})`
      }`,
    );
    const next = nextRate(trials);
    if (next === undefined) break;
    rate = next;
  }
  const cpuCores = cpuWindow(c0, ctx.sampler.sample());
  const held = trials.filter((t) => t.held);
  const best = held.length ? held.reduce((a, b) => (b.acceptedEventsPerS > a.acceptedEventsPerS ? b : a)) : undefined;
  const invalid: string[] = [];
  loadGeneratorCheck(ctx, cpuCores, invalid);
  if (!best) invalid.push(`no trial held (p99 to PostgreSQL ≤ ${p99LimitMs} ms, every event in every sink once)`);
  return {
    id: 's-sustained',
    title: `whole pipeline sustained: batches of ${batch}, every event in every sink once, p99 to PostgreSQL ≤ ${p99LimitMs} ms`,
    kind: 'e2e',
    unit: 'events/s',
    value: best?.acceptedEventsPerS ?? Number.NaN,
    eventsPerS: best?.acceptedEventsPerS ?? Number.NaN,
    valid: invalid.length === 0,
    invalid,
    notes: [
      `Trials of ${durationS} s each (offered events/s -> accepted, p99 to PostgreSQL): ${
        trials.map((t) => `${round(t.offeredEventsPerS)} -> ${round(t.acceptedEventsPerS)}, ${round(t.postgresP99Ms)} ms ${t.held ? 'held' : 'missed'}`).join(
          '; ',
        )
      }.`,
    ],
    cpuCores,
    cpuUsPerEvent: best?.cpuUsPerEvent,
    throughputSeries: [],
  };
}
