/**
 * The drain legs (d, e): a backlog filled through the gateway, then a worker drains it while the
 * sinks, the consumer groups' lag and the CPU of every process are watched.
 */
import type postgres from 'postgres';
import type { Isolated } from '../support/isolation.ts';
import { freePort } from '../support/processes.ts';
import type { LegResult, Point } from './bench-result.ts';
import { checkSink, outcomeOf } from './checker.ts';
import type { BenchContext } from './context.ts';
import type { CpuSample } from './cpu.ts';
import { runLoad } from './load.ts';
import { cpuWindow, meanCores, scrape, WORKER_HISTOGRAMS } from './measure.ts';
import type { Child } from './procs.ts';
import { digests } from './prom.ts';
import { idsOfAnswer } from './run-loadtest.ts';
import { AppliedWatcher, readClickhouse, readPostgres } from './sinks.ts';
import { rateBetween, round } from './stats.ts';
import { newRunId, planRequest, tagOf, validateWorkload } from './workload.ts';

/** Fills a stack's topics through its gateway (batch endpoint), collecting acknowledged ids. */
async function fillBacklog(
  ctx: BenchContext,
  url: string,
  runId: string,
): Promise<{ accepted: Set<string>; acceptedOrders: Set<string>; statuses: Map<number, number>; seconds: number }> {
  const w = validateWorkload({ runId, batch: ctx.settings.batch, ordersRatio: ctx.settings.ordersRatio, keys: ctx.settings.keys });
  const accepted = new Set<string>();
  const acceptedOrders = new Set<string>();
  const statuses = new Map<number, number>();
  const topics = new Map<number, string>();
  const requests = Math.ceil(ctx.settings.backlogEvents / ctx.settings.batch);
  const t0 = Date.now();
  await runLoad({
    url,
    connections: Math.min(ctx.settings.connections, requests),
    rate: ctx.settings.offeredBatch,
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
async function installFailurePlan(ctx: BenchContext, sql: postgres.Sql, plannedIds: string[]): Promise<void> {
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
    const seq = `bench_fail_${ctx.nextSequence()}`;
    await sql.unsafe(`CREATE SEQUENCE IF NOT EXISTS ${seq}`);
    await sql`INSERT INTO bench_fail_plan VALUES (${plannedIds[i]!}, ${seq}) ON CONFLICT DO NOTHING`;
  }
}

async function hashSelected(sql: postgres.Sql, ids: string[]): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`SELECT id::text AS id FROM unnest(${ids}::uuid[]) AS id WHERE hashtext(id::text) % 100 = 0`;
  return rows.map((r) => r.id);
}

/** What a drain leg leaves running for leg f. */
export interface Running {
  gateway?: { proc: Child; url: string };
  worker?: Child;
  /** The analytics worker, with --split-groups. */
  analytics?: Child;
  workerMetricsUrl?: string;
  workerMetrics?: string;
}

/** A drain leg: a backlog through the gateway, then one worker drains it while we watch. */
export async function drainLeg(
  ctx: BenchContext,
  iso: Isolated,
  id: 'd-drain' | 'e-drain-failures',
  keepRunning: boolean,
): Promise<{ leg: LegResult } & Running> {
  const failures = id === 'e-drain-failures';
  const letter = id.slice(0, 1);
  const gw = await ctx.server(`gateway-${letter}`, 'gateway/main.ts', ctx.gatewayEnv(iso), '/readyz');
  const runId = newRunId('bk');
  ctx.log(`${id}: filling a backlog of ${ctx.settings.backlogEvents} events through the gateway`);
  const backlog = await fillBacklog(ctx, gw.url, runId);
  const n = backlog.accepted.size;
  const planned = failures ? await hashSelected(iso.sql, [...backlog.acceptedOrders]) : [];
  await installFailurePlan(ctx, iso.sql, planned);
  ctx.log(
    `${id}: ${n} events accepted in ${round(backlog.seconds)} s${
      failures ? `; ${planned.length} order events (${round((100 * planned.length) / backlog.acceptedOrders.size)}% of PostgreSQL writes) will fail once` : ''
    }; starting the worker`,
  );

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
  const c0 = ctx.sampler.sample();
  const metricsPort = await freePort();
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  // --split-groups: the read model and analytics each in a worker process of its own (WORKER_GROUPS).
  const split = ctx.settings.splitGroups;
  const worker = ctx.spawn(`worker-${letter}`, 'workers/main.ts', {
    ...ctx.workerEnv(iso),
    WORKER_METRICS_PORT: String(metricsPort),
    ...(split ? { WORKER_GROUPS: 'read-model' } : {}),
  });
  const analytics = split
    ? ctx.spawn(`analytics-${letter}`, 'workers/main.ts', { ...ctx.workerEnv(iso), WORKER_METRICS_PORT: String(await freePort()), WORKER_GROUPS: 'analytics' })
    : undefined;
  const appliedSeries: { t: number; n: number }[] = [];
  /** When each group's channel had announced the whole backlog. */
  const groupDone = new Map<string, number>();
  const lagSeries: Point[] = [];
  let c10: CpuSample | undefined;
  let committedAt: number | undefined;
  const deadline = t0 + ctx.settings.drainTimeoutS * 1000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const t = Date.now() - t0;
    appliedSeries.push({ t, n: applied });
    for (const c of AppliedWatcher.CHANNELS) if (!groupDone.has(c) && (watcher.heard.get(c) ?? 0) >= n) groupDone.set(c, t);
    if (!c10 && applied >= 0.1 * n) c10 = ctx.sampler.sample();
    if (appliedSeries.length % 2 === 0 || applied >= n) {
      const lag = await Promise.all(groupIds.map((g) => ctx.kafka.lag(g, topics))).then((ls) => ls.reduce((a, b) => a + b, 0), () => Number.NaN);
      lagSeries.push({ t: t / 1000, v: lag });
      if (applied >= n && lag === 0) {
        committedAt = t;
        break;
      }
    }
    for (const w of [worker, analytics]) if (w && w.child.exitCode !== null) throw new Error(`${w.name} exited:\n${w.output()}`);
  }
  const c100 = ctx.sampler.sample();
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
  if (!complete) invalid.push(`not drained within ${ctx.settings.drainTimeoutS} s (${applied} of ${n} applied)`);
  if (!(n > 0)) invalid.push('empty backlog');
  else if (!Number.isFinite(rate)) invalid.push('drained too fast to measure a rate: make the backlog larger');
  const cpuCores = c10 ? cpuWindow(c10, c100) : {};
  const drainCpuUsPerEvent = n > 0 ? wholeDrainCpu(c0, c100, n) : undefined;
  ctx.log(
    `${id}: ${round(rate)} events/s from 10% to 100% drained; read model done ${round((groupDone.get('applied') ?? Number.NaN) / 1000)} s, analytics ${
      round((groupDone.get('applied:analytics') ?? Number.NaN) / 1000)
    } s, offsets committed ${committedAt !== undefined ? `${round(committedAt / 1000)} s` : 'never'} after the worker started; check ${
      pgV.ok && chV.ok ? 'OK' : 'FAILED'
    }`,
  );
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
      `Rate between 10% and 100% applied (${round(fromT / 1000)} s to ${round(toT / 1000)} s after start; first progress at ${
        round(firstProgress / 1000)
      } s), from the workers' applied-events channels (both consumer groups announced it: every sink written).`,
      `Announced whole by the read-model group ${groupDone.has('applied') ? `${round(groupDone.get('applied')! / 1000)} s` : 'never'}, by the analytics group ${
        groupDone.has('applied:analytics') ? `${round(groupDone.get('applied:analytics')! / 1000)} s` : 'never'
      } after the worker started.`,
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
    if (ctx.profile) leg.notes.push('The worker keeps running for leg f, so its profile covers both legs.');
    return { leg, gateway: gw, worker, analytics, workerMetricsUrl: metricsUrl, workerMetrics };
  }
  await Promise.all([ctx.stop(gw.proc), ctx.stop(worker), ctx.stop(analytics)]);
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
export function meanOfDrains(first: LegResult, second: LegResult, order: string): LegResult {
  return {
    ...first,
    value: (first.value + second.value) / 2,
    eventsPerS: ((first.eventsPerS ?? first.value) + (second.eventsPerS ?? second.value)) / 2,
    valid: first.valid && second.valid,
    invalid: [...first.invalid, ...second.invalid.map((r) => `second drain: ${r}`)],
    // The CPU goes with the rate it produced: both drains' mean, as the value is.
    cpuCores: meanCores([first.cpuCores, second.cpuCores]),
    drainCpuUsPerEvent: first.drainCpuUsPerEvent && second.drainCpuUsPerEvent ? meanCores([first.drainCpuUsPerEvent, second.drainCpuUsPerEvent]) : undefined,
    wholeDrainEventsPerS: first.wholeDrainEventsPerS && second.wholeDrainEventsPerS
      ? (first.wholeDrainEventsPerS + second.wholeDrainEventsPerS) / 2
      : undefined,
    notes: [
      `Mean of two drains run in the order ${order}: ${round(first.value)} and ${
        round(second.value)
      } events/s (CPU cores: the mean of both; the details below are the first drain's); whole drains, start-up included: ${
        round(first.wholeDrainEventsPerS ?? Number.NaN)
      } and ${round(second.wholeDrainEventsPerS ?? Number.NaN)} events/s.`,
      cpuPerEventNote(first, second),
      ...first.notes,
      ...second.notes.filter((n) => n.includes('planned failures')).map((n) => `Second drain: ${n}`),
    ],
  };
}

function perSecond(series: { t: number; n: number }[]): Point[] {
  const out: Point[] = [];
  let last = 0;
  for (let s = 1;; s++) {
    const at = series.filter((p) => p.t <= s * 1000).pop();
    if (!at) break;
    out.push({ t: s, v: at.n - last });
    last = at.n;
    if (at === series[series.length - 1]) break;
  }
  return out;
}
