/**
 * The pipeline, live: reads the metrics endpoints the processes already export (the gateway's,
 * each worker's), pings the stores, and reads consumer lag from Kafka, once a second while
 * someone watches; turns the readings into boxes (up / degraded / down, with the reason) and
 * arrows (events/s and errors/s), each rate over the last few seconds.
 */
import { buckets, parseMetrics, quantile, type Sample, total } from './prometheus-text.ts';
import type { LagReading } from './kafka-lag.ts';

export type Health = 'up' | 'degraded' | 'down';

export interface Box {
  id: string;
  health: Health;
  reason: string;
}

export interface Arrow {
  from: string;
  to: string;
  /** Per second. */
  rate: number;
  errors: number;
}

export interface PipelineState {
  at: string;
  boxes: Box[];
  arrows: Arrow[];
  /** Per group: partitions with their lag. */
  lag: LagReading['groups'];
  /** Partitions per topic. */
  partitions: LagReading['partitions'];
  /** Write latency p99 in ms over the last ~10 s, per sink; null when nothing was written. */
  sinkP99: Record<'postgres' | 'redis' | 'clickhouse', number | null>;
  deadLetters: number | null;
  retries: number | null;
}

export interface ProbeSources {
  gatewayMetrics: () => Promise<string>;
  /** One per worker process: its Prometheus text. */
  workerMetrics: (() => Promise<string>)[];
  pings: Record<'postgres' | 'redis' | 'clickhouse' | 'queue-redis', () => Promise<void>>;
  lag: () => Promise<LagReading>;
  deadLetters: () => Promise<number>;
  retries: () => Promise<number>;
}

/** A probe that answers slower than this counts as failed. */
export const PROBE_TIMEOUT_MS = 900;
/** Rates are over this window. */
const RATE_WINDOW_MS = 5_000;
const P99_WINDOW_MS = 10_000;
/** Kafka is down when no lag reading succeeded for this long. */
const KAFKA_STALE_MS = 5_000;

export function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer)
  );
}

interface Reading {
  t: number;
  gateway?: Sample[];
  gatewayError?: string;
  workers: Sample[];
  workerErrors: string[];
  workersAsked: number;
  pings: Record<string, string | undefined>;
}

function short(err: unknown): string {
  const m = (err as Error)?.message ?? String(err);
  return m.length > 160 ? `${m.slice(0, 157)}...` : m;
}

export class PipelineProbe {
  #history: Reading[] = [];
  #lag: { at: number; reading?: LagReading; error?: string } = { at: 0 };
  #lagRunning = false;
  #counts: { deadLetters: number | null; retries: number | null } = { deadLetters: null, retries: null };

  constructor(readonly sources: ProbeSources) {}

  /** Takes one reading and answers the state as of it. */
  async tick(now = Date.now()): Promise<PipelineState> {
    this.#readLag(now);
    const [gateway, workers, pings, counts] = await Promise.all([
      within(this.sources.gatewayMetrics(), PROBE_TIMEOUT_MS).then((t) => ({ samples: parseMetrics(t) }), (err: unknown) => ({ error: short(err) })),
      Promise.all(
        this.sources.workerMetrics.map((w) =>
          within(w(), PROBE_TIMEOUT_MS).then((t) => ({ samples: parseMetrics(t) }), (err: unknown) => ({ error: short(err) }))
        ),
      ),
      Promise.all(
        Object.entries(this.sources.pings).map(async ([name, ping]) =>
          [name, await within(ping(), PROBE_TIMEOUT_MS).then(() => undefined, (err: unknown) => short(err))] as const
        ),
      ),
      Promise.all([within(this.sources.deadLetters(), PROBE_TIMEOUT_MS).catch(() => null), within(this.sources.retries(), PROBE_TIMEOUT_MS).catch(() => null)]),
    ]);
    this.#counts = { deadLetters: counts[0], retries: counts[1] };
    const reading: Reading = {
      t: now,
      ...('samples' in gateway ? { gateway: gateway.samples } : { gatewayError: gateway.error }),
      workers: workers.flatMap((w) => ('samples' in w ? w.samples : [])),
      workerErrors: workers.flatMap((w) => ('error' in w ? [w.error] : [])),
      workersAsked: workers.length,
      pings: Object.fromEntries(pings),
    };
    this.#history.push(reading);
    while (this.#history.length > 2 && this.#history[0]!.t < now - P99_WINDOW_MS - 1500) this.#history.shift();
    return this.state(now);
  }

  #readLag(now: number): void {
    if (this.#lagRunning) return;
    this.#lagRunning = true;
    this.sources.lag().then(
      (reading) => (this.#lag = { at: Date.now(), reading }),
      (err: unknown) => (this.#lag = { ...this.#lag, error: short(err), ...(this.#lag.at === 0 ? { at: now - KAFKA_STALE_MS } : {}) }),
    ).finally(() => (this.#lagRunning = false));
  }

  /** The reading closest to `ms` ago with the samples `pick` needs. */
  #before(now: number, ms: number, pick: (r: Reading) => Sample[] | undefined): Sample[] | undefined {
    let best: Reading | undefined;
    for (const r of this.#history) if (pick(r) && r.t <= now - ms + 500 && r.t < now) best = r;
    if (!best) best = this.#history.find((r) => pick(r) && r.t < now);
    return best ? pick(best) : undefined;
  }

  state(now = Date.now()): PipelineState {
    const cur = this.#history[this.#history.length - 1];
    const gw = cur?.gateway;
    const wk = cur && cur.workers.length ? cur.workers : undefined;
    const prevOf = (pick: (r: Reading) => Sample[] | undefined) => {
      const older = this.#history.filter((r) => pick(r) && r.t < (cur?.t ?? now));
      const base = older.find((r) => r.t >= (cur?.t ?? now) - RATE_WINDOW_MS - 500) ?? older[older.length - 1];
      return base ? { samples: pick(base)!, t: base.t } : undefined;
    };
    const gPrev = prevOf((r) => r.gateway);
    const wPrev = prevOf((r) => (r.workers.length ? r.workers : undefined));
    const rate = (now2: Sample[] | undefined, prev: { samples: Sample[]; t: number } | undefined, f: (s: Sample[]) => number) => {
      if (!now2 || !prev || !cur) return 0;
      const d = f(now2) - f(prev.samples);
      return d > 0 ? d / Math.max(0.001, (cur.t - prev.t) / 1000) : 0;
    };
    const g = (f: (s: Sample[]) => number) => rate(gw, gPrev, f);
    const w = (f: (s: Sample[]) => number) => rate(wk, wPrev, f);
    const is5xx = (l: Record<string, string>) => !l.status?.startsWith('5');
    const reads = (l: Record<string, string>) => l.method !== 'GET' || !l.route?.startsWith('/v1/orders');

    const requests = g((s) => total(s, 'ferry_gateway_http_requests_total'));
    const requestErrors = g((s) => total(s, 'ferry_gateway_http_requests_total', {}, is5xx));
    const accepted = g((s) => total(s, 'ferry_gateway_produced_records_total', { outcome: 'accepted' }));
    const refused = g((s) => total(s, 'ferry_gateway_produced_records_total', { outcome: 'failed' }));
    const readRequests = g((s) => total(s, 'ferry_gateway_http_requests_total', { method: 'GET' }, reads));
    const readErrors = g((s) => total(s, 'ferry_gateway_http_requests_total', { method: 'GET' }, (l) => reads(l) || is5xx(l)));
    const applied = (group: string) => w((s) => total(s, 'ferry_worker_events_applied_total', { group }));
    const failures = (group: string) => w((s) => total(s, 'ferry_worker_batch_failures_total', { group }));
    const written = (sink: string) => w((s) => total(s, 'ferry_worker_sink_batch_size_sum', { sink }));
    const deadRate = w((s) => total(s, 'ferry_worker_dead_letters_total'));

    const p99 = (sink: string): number | null => {
      if (!wk) return null;
      const old = this.#before(cur!.t, P99_WINDOW_MS, (r) => (r.workers.length ? r.workers : undefined));
      const q = quantile(
        0.99,
        buckets(wk, 'ferry_worker_sink_write_seconds', { sink }),
        old && old !== wk ? buckets(old, 'ferry_worker_sink_write_seconds', { sink }) : undefined,
      );
      return q === undefined ? null : Math.round(q * 10000) / 10;
    };
    const sinkP99 = { postgres: p99('postgres'), redis: p99('redis'), clickhouse: p99('clickhouse') };

    const boxes: Box[] = [];
    const box = (id: string, health: Health, reason: string) => boxes.push({ id, health, reason });
    box('clients', 'up', `${requests.toFixed(1)} requests/s`);
    if (!cur) {
      for (const id of ['gateway', 'producer', 'kafka', 'read-model', 'analytics', 'postgres', 'redis', 'clickhouse', 'queue-redis']) {
        box(id, 'down', 'no reading yet');
      }
      return { at: new Date(now).toISOString(), boxes, arrows: [], lag: {}, partitions: {}, sinkP99, ...this.#counts };
    }
    if (!gw) box('gateway', 'down', `metrics unreachable: ${cur.gatewayError ?? 'no answer'}`);
    else if (requestErrors > 0) box('gateway', 'degraded', `${requestErrors.toFixed(1)} 5xx answers/s`);
    else box('gateway', 'up', `${requests.toFixed(1)} requests/s`);
    const inFlight = gw ? total(gw, 'ferry_gateway_producer_in_flight') : 0;
    const maxInFlight = gw ? total(gw, 'ferry_gateway_producer_max_in_flight') : 0;
    if (!gw) box('producer', 'down', 'the gateway (which runs it) is unreachable');
    else if (refused > 0) box('producer', 'degraded', `Kafka refused ${refused.toFixed(1)} records/s`);
    else if (maxInFlight > 0 && inFlight >= 0.9 * maxInFlight) box('producer', 'degraded', `${inFlight} records in flight of ${maxInFlight}`);
    else box('producer', 'up', `${inFlight} in flight`);

    const lagFresh = this.#lag.reading && now - this.#lag.at < KAFKA_STALE_MS;
    if (lagFresh) box('kafka', 'up', `${Object.values(this.#lag.reading!.partitions).reduce((a, b) => a + b, 0)} partitions`);
    else box('kafka', this.#lag.at === 0 && !this.#lag.error ? 'degraded' : 'down', this.#lag.error ? `admin: ${this.#lag.error}` : 'no reading yet');

    for (const group of ['read-model', 'analytics']) {
      const lag = lagFresh ? (this.#lag.reading!.groups[group] ?? []).reduce((a, p) => a + p.lag, 0) : undefined;
      const outage = wk ? total(wk, 'ferry_worker_sink_outage', { group }) : 0;
      const failed = failures(group);
      if (!wk) box(group, 'down', cur.workersAsked ? `no worker metrics: ${cur.workerErrors[0] ?? ''}` : 'no worker metrics configured');
      else if (outage > 0) box(group, 'degraded', 'a sink is unreachable: batches are held');
      else if (failed > 0) box(group, 'degraded', `${failed.toFixed(1)} failed batches/s`);
      else if (cur.workerErrors.length) box(group, 'degraded', `${cur.workerErrors.length} of ${cur.workersAsked} workers unreachable`);
      else box(group, 'up', lag === undefined ? `${applied(group).toFixed(1)} events/s` : `lag ${lag}`);
    }
    for (const sink of ['postgres', 'redis', 'clickhouse'] as const) {
      const err = cur.pings[sink];
      const p = sinkP99[sink];
      if (err) box(sink, 'down', `unreachable: ${err}`);
      else if (p !== null && p > 1000) box(sink, 'degraded', `writes slow: p99 ${p} ms`);
      else box(sink, 'up', p === null ? 'reachable' : `p99 ${p} ms`);
    }
    const qErr = cur.pings['queue-redis'];
    const dl = this.#counts.deadLetters;
    if (qErr) box('queue-redis', 'down', `unreachable: ${qErr}`);
    else if (dl) box('queue-redis', 'degraded', `${dl} dead letters wait`);
    else box('queue-redis', 'up', `${this.#counts.retries ?? 0} retries in progress`);

    const readModelErrors = failures('read-model');
    const arrows: Arrow[] = [
      { from: 'clients', to: 'gateway', rate: requests, errors: requestErrors },
      { from: 'gateway', to: 'producer', rate: accepted + refused, errors: refused },
      { from: 'producer', to: 'kafka', rate: accepted, errors: refused },
      { from: 'kafka', to: 'read-model', rate: applied('read-model'), errors: readModelErrors + deadRate },
      { from: 'kafka', to: 'analytics', rate: applied('analytics'), errors: failures('analytics') },
      { from: 'read-model', to: 'postgres', rate: written('postgres'), errors: readModelErrors },
      { from: 'read-model', to: 'redis', rate: written('redis'), errors: readModelErrors },
      { from: 'analytics', to: 'clickhouse', rate: written('clickhouse'), errors: failures('analytics') },
      { from: 'redis', to: 'gateway', rate: readRequests, errors: readErrors },
    ].map((a) => ({ ...a, rate: Math.round(a.rate * 10) / 10, errors: Math.round(a.errors * 10) / 10 }));
    return {
      at: new Date(now).toISOString(),
      boxes,
      arrows,
      lag: lagFresh ? this.#lag.reading!.groups : {},
      partitions: lagFresh ? this.#lag.reading!.partitions : {},
      sinkP99,
      ...this.#counts,
    };
  }
}
