/**
 * Leg f: end-to-end p99, accepted -> written in PostgreSQL, at half the sustained rate (the
 * lowest of leg a, leg d and the whole pipeline's), on leg d's stack with its worker running.
 */
import type { Isolated } from '../../support/isolation.ts';
import type { LegResult } from '../bench-result.ts';
import type { BenchContext } from '../context.ts';
import type { Running } from '../drain.ts';
import { cpuWindow, GATEWAY_HISTOGRAMS, loadGeneratorCheck, scrape, WORKER_HISTOGRAMS } from '../measure.ts';
import { digests } from '../prom.ts';
import { runLoadtest } from '../run-loadtest.ts';
import { round } from '../stats.ts';

/** Leg f, or undefined (logged) when legs a and d gave no valid sustained rate. */
export async function legF(ctx: BenchContext, iso: Isolated, running: Running, legs: ReadonlyMap<string, LegResult>): Promise<LegResult | undefined> {
  const gatewayRate = legs.get('a-gateway')?.valid ? legs.get('a-gateway')!.value : Number.NaN;
  const drainRate = legs.get('d-drain')?.valid ? legs.get('d-drain')!.value : Number.NaN;
  const pipeline = await pipelineSustained(ctx, iso, running);
  const sustained = Math.min(...[gatewayRate, drainRate, pipeline.rate].filter(Number.isFinite));
  if (!Number.isFinite(sustained)) {
    ctx.log('f: skipped: no valid sustained rate from legs a and d');
    return undefined;
  }
  const pinned = ctx.options.fRate;
  const f = await endToEnd(ctx, iso, running, pinned ?? sustained / 2);
  f.notes.push(pipeline.note, `Half the sustained rate: ½ · min(a ${round(gatewayRate)}, d ${round(drainRate)}, whole pipeline ${round(pipeline.rate)}).`);
  if (pinned !== undefined) f.notes.push(`Offered rate pinned with --f-rate ${pinned} (for comparing runs), not half the sustained rate.`);
  return f;
}

/**
 * What the whole pipeline sustains on this machine: single-event POSTs far above capacity for
 * a while, with the worker running, then the time until every accepted event is in the sinks.
 * Gateway and worker share the cores here, so this is below both a and d alone.
 */
async function pipelineSustained(ctx: BenchContext, iso: Isolated, running: Running): Promise<{ rate: number; note: string }> {
  const durationS = ctx.quick ? 3 : 10;
  ctx.log(`f: the whole pipeline's sustained rate: single events offered far above capacity for ${durationS} s, then the drain`);
  const r = await runLoadtest({
    url: running.gateway!.url,
    connections: ctx.settings.connections,
    rate: ctx.settings.offeredSingle,
    durationS,
    phases: ctx.settings.phases,
    batch: 1,
    ordersRatio: ctx.settings.ordersRatio,
    keys: ctx.settings.keys,
    sinks: { databaseUrl: iso.env.DATABASE_URL!, clickhouseUrl: iso.env.CLICKHOUSE_URL!, redisUrl: iso.env.REDIS_URL!, redisPrefix: iso.env.REDIS_PREFIX! },
    drainTimeoutS: ctx.settings.drainTimeoutS,
  });
  const seconds = r.load.durationS + r.drain.afterLoadS;
  const rate = r.drain.complete ? r.events.accepted / seconds : Number.NaN;
  const note = `The whole pipeline (gateway and worker on this machine's 2 cores) sustained ${round(rate)} events/s: ${r.events.accepted} accepted in ${
    round(r.load.durationS)
  } s at saturation, all in PostgreSQL and ClickHouse ${round(r.drain.afterLoadS)} s after the load ended; check ${r.check.ok ? 'OK' : 'FAILED'}.`;
  ctx.log(`f: ${note}`);
  return { rate, note };
}

/** The end-to-end measurement at `rate` req/s, the worker running. */
async function endToEnd(ctx: BenchContext, iso: Isolated, running: Running, rate: number): Promise<LegResult> {
  const gateway = running.gateway!;
  ctx.log(`f: end-to-end at ${round(rate)} req/s (half the sustained rate), warm-up ${ctx.settings.fWarmupS} s, measuring ${ctx.settings.fMeasureS} s`);
  const g0 = await scrape(`${gateway.url}/metrics`);
  const w0 = await scrape(running.workerMetricsUrl);
  const c0 = ctx.sampler.sample();
  const r = await runLoadtest({
    url: gateway.url,
    connections: ctx.settings.connections,
    rate: Math.max(1, Math.round(rate)),
    durationS: ctx.settings.fMeasureS,
    warmupS: ctx.settings.fWarmupS,
    phases: ctx.settings.phases,
    batch: 1,
    ordersRatio: ctx.settings.ordersRatio,
    keys: ctx.settings.keys,
    sinks: { databaseUrl: iso.env.DATABASE_URL!, clickhouseUrl: iso.env.CLICKHOUSE_URL!, redisUrl: iso.env.REDIS_URL!, redisPrefix: iso.env.REDIS_PREFIX! },
    drainTimeoutS: 60,
  });
  const c1 = ctx.sampler.sample();
  const [g1, w1] = [await scrape(`${gateway.url}/metrics`), await scrape(running.workerMetricsUrl)];
  const cpuCores = cpuWindow(c0, c1);
  const invalid: string[] = [];
  loadGeneratorCheck(ctx, cpuCores, invalid);
  if (!r.check.ok) invalid.push('checker found lost, duplicated or phantom events');
  if (!r.drain.complete) invalid.push('events did not all reach the sinks');
  const e2e = r.endToEnd;
  const workerDigests = w1 ? digests(w1, w0, WORKER_HISTOGRAMS) : {};
  const ms = (name: string) => {
    const d = workerDigests[name];
    return d && d.count > 0 && Number.isFinite(d.p50) && Number.isFinite(d.p99) ? `p50 ${round(d.p50 * 1000)} / p99 ${round(d.p99 * 1000)} ms` : 'n/a';
  };
  const whereTimeGoes = `Read-model worker, from its histograms over the leg: oldest record's age when its batch's apply started (Kafka timestamp to apply) ${
    ms('ferry_worker_batch_wait_seconds{group="read-model"}')
  }; apply ${ms('ferry_worker_batch_seconds{group="read-model"}')}; of which PostgreSQL ${ms('ferry_worker_sink_write_seconds{sink="postgres"}')}, Redis ${
    ms('ferry_worker_sink_write_seconds{sink="redis"}')
  } (histogram buckets, so coarse).`;
  ctx.log(
    `f: ${round(r.load.requestsPerS)} req/s; end-to-end PostgreSQL p50 ${round(e2e.postgresMs.p50)} p99 ${round(e2e.postgresMs.p99)} ms; all sinks p99 ${
      e2e.allSinksMs ? round(e2e.allSinksMs.p99) : 'n/a'
    } ms; check ${r.check.ok ? 'OK' : 'FAILED'}`,
  );
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
    connections: ctx.settings.connections,
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
