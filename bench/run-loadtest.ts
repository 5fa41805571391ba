/**
 * One load test against a running pipeline: drive the gateway at a fixed rate, then follow the
 * accepted events into PostgreSQL and ClickHouse (end-to-end latency, drain), then check that
 * every acknowledged event is in every sink exactly once (checker.ts).
 *
 * The CLI is loadtest.ts; the benchmark (bench.ts) and its test call runLoadtest directly.
 */
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { createClickhouse } from '../lib/clickhouse.ts';
import { checkCounters, checkSink, type CounterVerdict, type Outcome, outcomeOf, type SinkVerdict } from './checker.ts';
import { type LoadResult, runLoad } from './load.ts';
import { AppliedWatcher, countTagged, readClickhouse, readPageViewCounters, readPostgres } from './sinks.ts';
import { round, summarize, type Summary } from './stats.ts';
import { newRunId, planRequest, tagOf, validateWorkload } from './workload.ts';

export interface LoadtestOptions {
  url: string;
  connections: number;
  /** Offered requests per second. */
  rate: number;
  durationS: number;
  /** Seconds of load before the measured run, with its own run tag (not checked). @defaultValue 0 */
  warmupS?: number;
  phases?: number;
  batch: number;
  ordersRatio: number;
  keys: number;
  runId?: string;
  headers?: Record<string, string>;
  sinks: { databaseUrl: string; clickhouseUrl: string; redisUrl: string; redisPrefix: string };
  /** How long to wait for every accepted event to reach the sinks. @defaultValue 120 */
  drainTimeoutS?: number;
  /** Progress lines (about one a second). */
  log?: (line: string) => void;
  /** Seconds before a request counts as timed out. @defaultValue 10 */
  timeoutS?: number;
  /** Every answer of the measured load, as it arrives (the fault runner times them). */
  onAnswer?: (seq: number, status: number, headers: Record<string, string | string[]>) => void;
  /**
   * Runs beside the measured load from its start (the fault runner injects and lifts faults
   * here); awaited after the load ends, before the drain.
   */
  alongside?: () => Promise<unknown>;
  /** Called once the sinks hold every accepted event, before the checker reads them. */
  onDrained?: () => void;
}

export interface TimelinePoint {
  /** Seconds since the measured load started. */
  t: number;
  /** Events acknowledged so far. */
  accepted: number;
  /** Of those, announced by the workers as applied to every sink. */
  applied: number;
  /** Answers in the last second. */
  answered: number;
}

export interface LoadtestReport {
  runId: string;
  options: Omit<LoadtestOptions, 'log' | 'sinks' | 'headers'>;
  load: {
    durationS: number;
    offeredRate: number;
    requestsPerS: number;
    acceptedEventsPerS: number;
    requests: number;
    answered: number;
    statusCounts: Record<string, number>;
    connectionErrors: number;
    timeouts: number;
    unanswered: number;
    latencyMs: Summary;
    /** Corrected for coordinated omission with each connection's real interval (load.ts). */
    latencyCorrectedMs: Summary | undefined;
    latencyDistribution: { percentile: number; ms: number }[];
    sustained: boolean;
  };
  events: { accepted: number; acceptedOrders: number; indeterminate: number };
  endToEnd: {
    /** order_history.applied_at - received_at: accepted by the gateway to written in PostgreSQL. */
    postgresMs: Summary;
    /** events.written_at_ms - received_at_ms: to the ClickHouse insert. */
    clickhouseMs: Summary;
    /** Announced by both consumer groups (every sink written) - received_at, when the later was heard. */
    allSinksMs: Summary | undefined;
  };
  drain: {
    /** From the end of the load until every accepted event was found in PostgreSQL and ClickHouse. */
    afterLoadS: number;
    complete: boolean;
    /** Rows per second between the first and last write of the run, per sink. */
    postgresRate: number;
    clickhouseRate: number;
    lastWriteAfterLoadEndMs: number;
  };
  check: {
    ok: boolean;
    postgres: SinkVerdict;
    clickhouse: SinkVerdict;
    clickhouseRaw: { rows: number; distinct: number; mergePendingDuplicates: number };
    redisPageViews: CounterVerdict;
    orders: { rows: number; expectedAtLeast: number; expectedAtMost: number; ok: boolean };
  };
  timeline: TimelinePoint[];
  loadResult: LoadResult;
}

/** Parses a gateway answer into acknowledged and failed event ids. */
export function idsOfAnswer(status: number, body: string): { accepted: string[]; failed: { index: number; id: string }[] } {
  if (status < 200 || status >= 300) {
    return { accepted: [], failed: [] };
  }
  const json = JSON.parse(body) as { event_id?: string; results?: { status: string; event_id: string; index?: number }[] };
  if (json.results) {
    const accepted: string[] = [];
    const failed: { index: number; id: string }[] = [];
    json.results.forEach((r, i) => (r.status === 'accepted' ? accepted.push(r.event_id) : failed.push({ index: r.index ?? i, id: r.event_id })));
    return { accepted, failed };
  }
  return { accepted: json.event_id ? [json.event_id] : [], failed: [] };
}

export async function runLoadtest(o: LoadtestOptions): Promise<LoadtestReport> {
  const log = o.log ?? (() => {});
  const workload = validateWorkload({ runId: o.runId ?? newRunId('lt'), batch: o.batch, ordersRatio: o.ordersRatio, keys: o.keys });
  const tag = tagOf(workload.runId);
  const sql = postgres(o.sinks.databaseUrl, { max: 2, onnotice: () => {} });
  const clickhouse = createClickhouse(o.sinks.clickhouseUrl);
  const redis = new Redis(o.sinks.redisUrl, { maxRetriesPerRequest: 2 });
  const watcher = new AppliedWatcher(o.sinks.redisUrl, o.sinks.redisPrefix);
  try {
    const heard = await Promise.race([watcher.start().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3000))]);
    if (!heard) log('applied-events channel not reachable: all-sinks latency will be missing');

    if (o.warmupS && o.warmupS > 0) {
      const warm = validateWorkload({ ...workload, runId: `${workload.runId}w` });
      log(`warm-up ${o.warmupS} s`);
      await runLoad({
        url: o.url,
        connections: o.connections,
        rate: o.rate,
        durationS: o.warmupS,
        phases: o.phases,
        headers: o.headers,
        requests: (seq) => planRequest(warm, seq),
      });
    }

    // Outcomes and topics per request, and the acknowledged ids.
    const statuses = new GrowingArray(Int16Array);
    const isOrderRequest = new GrowingArray(Uint8Array);
    const partial = new Map<number, Set<number>>(); // seq -> indexes that failed in a 207
    const accepted = new Set<string>();
    const acceptedOrders = new Set<string>();
    let appliedOurs = 0;
    watcher.onNew((id) => {
      if (accepted.has(id)) appliedOurs++;
    });
    const timeline: TimelinePoint[] = [];
    const onAnswer = (seq: number, status: number, body: string, headers: Record<string, string | string[]>) => {
      statuses.set(seq, status);
      o.onAnswer?.(seq, status, headers);
      let ids;
      try {
        ids = idsOfAnswer(status, body);
      } catch {
        return;
      }
      const isOrder = isOrderRequest.get(seq) === 1;
      for (const id of ids.accepted) {
        accepted.add(id);
        if (isOrder) acceptedOrders.add(id);
        if (watcher.seenAt.has(id)) appliedOurs++;
      }
      if (ids.failed.length) partial.set(seq, new Set(ids.failed.map((f) => f.index)));
    };

    log(
      `run ${workload.runId}: ${o.rate} req/s offered over ${o.connections} connections for ${o.durationS} s, batch ${o.batch}, ${
        Math.round(o.ordersRatio * 100)
      }% orders, ${o.keys} keys`,
    );
    const beside = o.alongside?.();
    // Its failure is reported after the load (the await below), not as an unhandled rejection.
    beside?.catch(() => {});
    const load = await runLoad({
      url: o.url,
      ...(o.timeoutS ? { timeoutS: o.timeoutS } : {}),
      connections: o.connections,
      rate: o.rate,
      durationS: o.durationS,
      phases: o.phases,
      headers: o.headers,
      correct: true,
      requests: (seq) => {
        const r = planRequest(workload, seq);
        isOrderRequest.set(seq, r.topic === 'orders' ? 1 : 0);
        return r;
      },
      onAnswer,
      onTick: (p) => {
        timeline.push({ t: p.elapsedS, accepted: accepted.size, applied: appliedOurs, answered: p.answeredLastS });
        log(
          `${
            String(p.elapsedS).padStart(4)
          }/${p.durationS} s  ${p.answeredLastS} answers/s  2xx ${p.ok}  non-2xx ${p.non2xx}  errors ${p.errors}  accepted events ${accepted.size}  not yet applied ${
            accepted.size - appliedOurs
          }`,
        );
      },
    });
    await beside;
    const loadEnd = load.endedAt;

    // Outcome per request: regenerate each request to know its events (keys, URLs, topic).
    // A 207 names every id of its request: one it did not acknowledge is a failed entry, which
    // Kafka may have written anyway (a delivery timeout), so at most once like a 5xx.
    const outcome = (seq: number): Outcome | undefined => (seq < load.built ? (partial.has(seq) ? 'indeterminate' : outcomeOf(statuses.get(seq))) : undefined);
    const ackViews = new Map<string, number>();
    const maybeViews = new Map<string, number>();
    const ackOrderKeys = new Set<string>();
    const maybeOrderKeys = new Set<string>();
    let indeterminate = 0;
    for (let seq = 0; seq < load.built; seq++) {
      const out = outcomeOf(statuses.get(seq));
      if (out === 'refused') continue;
      const req = planRequest(workload, seq);
      const failedIdx = partial.get(seq);
      req.events.forEach((e, i) => {
        const acked = out === 'acknowledged' && !failedIdx?.has(i);
        if (!acked) indeterminate++;
        if (req.topic === 'page_views') {
          const url = String(e.url);
          const m = acked ? ackViews : maybeViews;
          m.set(url, (m.get(url) ?? 0) + 1);
        } else {
          (acked ? ackOrderKeys : maybeOrderKeys).add(String(e.order_id));
        }
      });
    }

    // Drain: until the counts cover every accepted event, then until nothing is lost.
    const drainDeadline = Date.now() + (o.drainTimeoutS ?? 120) * 1000;
    let complete = false;
    let counts = { postgres: 0, clickhouse: 0 };
    while (Date.now() < drainDeadline) {
      counts = await countTagged(sql, clickhouse, tag);
      timeline.push({ t: Math.round((Date.now() - load.startedAt) / 100) / 10, accepted: accepted.size, applied: appliedOurs, answered: 0 });
      if (counts.postgres >= acceptedOrders.size && counts.clickhouse >= accepted.size) {
        complete = true;
        o.onDrained?.();
        break;
      }
      log(`draining: PostgreSQL ${counts.postgres}/${acceptedOrders.size}, ClickHouse ${counts.clickhouse}/${accepted.size}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const afterLoadS = (Date.now() - loadEnd) / 1000;
    if (!complete) log(`drain timed out after ${round(afterLoadS)} s`);

    let pg = await readPostgres(sql, tag);
    let ch = await readClickhouse(clickhouse, tag, accepted);
    // Counts can include indeterminate events; wait a little longer if an acknowledged one is missing.
    const missing = () => [...acceptedOrders].some((id) => !pg.copies.has(id)) || [...accepted].some((id) => !ch.final.has(id));
    while (missing() && Date.now() < drainDeadline) {
      await new Promise((r) => setTimeout(r, 1000));
      pg = await readPostgres(sql, tag);
      ch = await readClickhouse(clickhouse, tag, accepted);
    }
    // Give in-flight page-view increments the same chance: the worker writes the sinks of a batch
    // concurrently, so a counter can trail the rows by a moment.
    let views = await readPageViewCounters(redis, o.sinks.redisPrefix, workload.runId);
    while (checkCounters(ackViews, maybeViews, views).under > 0 && Date.now() < drainDeadline) {
      await new Promise((r) => setTimeout(r, 200));
      views = await readPageViewCounters(redis, o.sinks.redisPrefix, workload.runId);
    }

    const postgresVerdict = checkSink(acceptedOrders, { copies: pg.copies, traceOf: (id) => pg.trace.get(id) }, outcome);
    const clickhouseVerdict = checkSink(accepted, { copies: ch.final, rawCopies: ch.raw, traceOf: (id) => ch.trace.get(id) }, outcome);
    const viewsVerdict = checkCounters(ackViews, maybeViews, views);
    const ordersOk = pg.orderRows >= ackOrderKeys.size && pg.orderRows <= new Set([...ackOrderKeys, ...maybeOrderKeys]).size;

    const allSinks: number[] = [];
    for (const id of accepted) {
      const seen = watcher.seenAt.get(id);
      const received = ch.receivedMs.get(id);
      if (seen !== undefined && received !== undefined) allSinks.push(seen - received);
    }

    const requestsPerS = load.steady.answeredRate;
    const report: LoadtestReport = {
      runId: workload.runId,
      options: {
        url: o.url,
        connections: o.connections,
        rate: o.rate,
        durationS: o.durationS,
        warmupS: o.warmupS ?? 0,
        phases: load.phases,
        batch: o.batch,
        ordersRatio: o.ordersRatio,
        keys: o.keys,
        drainTimeoutS: o.drainTimeoutS ?? 120,
      },
      load: {
        durationS: load.durationS,
        offeredRate: o.rate,
        requestsPerS,
        acceptedEventsPerS: (accepted.size / load.ok) * load.steady.okRate || 0,
        requests: load.built,
        answered: load.answered,
        statusCounts: load.statusCounts,
        connectionErrors: load.errors,
        timeouts: load.timeouts,
        unanswered: load.built - load.answered,
        latencyMs: load.latency.summary(),
        latencyCorrectedMs: load.corrected?.summary(),
        latencyDistribution: (load.corrected ?? load.latency).distribution(),
        sustained: requestsPerS >= 0.95 * o.rate,
      },
      events: { accepted: accepted.size, acceptedOrders: acceptedOrders.size, indeterminate },
      endToEnd: {
        postgresMs: summarize(pg.endToEndMs),
        clickhouseMs: summarize(ch.endToEndMs),
        allSinksMs: allSinks.length ? summarize(allSinks) : undefined,
      },
      drain: {
        afterLoadS,
        complete,
        postgresRate: rateOf(pg.copies.size, pg.firstAppliedMs, pg.lastAppliedMs),
        clickhouseRate: rateOf(ch.raw.size, ch.firstWrittenMs, ch.lastWrittenMs),
        lastWriteAfterLoadEndMs: Math.max(pg.lastAppliedMs, ch.lastWrittenMs) - loadEnd,
      },
      check: {
        ok: postgresVerdict.ok && clickhouseVerdict.ok && viewsVerdict.ok && ordersOk,
        postgres: postgresVerdict,
        clickhouse: clickhouseVerdict,
        clickhouseRaw: { rows: clickhouseVerdict.rawRows, distinct: ch.raw.size, mergePendingDuplicates: clickhouseVerdict.mergePendingDuplicates },
        redisPageViews: viewsVerdict,
        orders: { rows: pg.orderRows, expectedAtLeast: ackOrderKeys.size, expectedAtMost: new Set([...ackOrderKeys, ...maybeOrderKeys]).size, ok: ordersOk },
      },
      timeline,
      loadResult: load,
    };
    return report;
  } finally {
    watcher.close();
    redis.disconnect();
    await sql.end({ timeout: 5 });
    await clickhouse.close();
  }
}

export function formatLoadtest(r: LoadtestReport): string {
  const l = r.load;
  const lat = l.latencyCorrectedMs ?? l.latencyMs;
  const e = r.endToEnd;
  const c = r.check;
  const v = (x: { lost: number; duplicates: number; phantoms: number; unexpectedIndeterminate: number; expected: number }) =>
    `expected ${x.expected}, lost ${x.lost}, duplicates ${x.duplicates}, phantoms ${x.phantoms}, from unanswered requests ${x.unexpectedIndeterminate}`;
  return [
    `run ${r.runId}`,
    `load: ${round(l.requestsPerS)} req/s answered of ${l.offeredRate} offered${l.sustained ? '' : ' (NOT sustained)'}, ${
      round(l.acceptedEventsPerS)
    } accepted events/s`,
    `  status codes ${JSON.stringify(l.statusCounts)}, connection errors ${l.connectionErrors}, timeouts ${l.timeouts}, unanswered ${l.unanswered}`,
    `  latency ms (corrected for coordinated omission): p50 ${round(lat.p50)}  p90 ${round(lat.p90)}  p99 ${round(lat.p99)}  p99.9 ${round(lat.p999)}  max ${
      round(lat.max)
    }`,
    `  latency ms (raw):                               p50 ${round(l.latencyMs.p50)}  p90 ${round(l.latencyMs.p90)}  p99 ${round(l.latencyMs.p99)}  p99.9 ${
      round(l.latencyMs.p999)
    }`,
    `end to end ms: PostgreSQL p50 ${round(e.postgresMs.p50)} p99 ${round(e.postgresMs.p99)}; ClickHouse p50 ${round(e.clickhouseMs.p50)} p99 ${
      round(e.clickhouseMs.p99)
    }` +
    (e.allSinksMs ? `; all sinks (applied channels) p50 ${round(e.allSinksMs.p50)} p99 ${round(e.allSinksMs.p99)}` : ''),
    `drain: ${r.drain.complete ? 'complete' : 'INCOMPLETE'} ${round(r.drain.afterLoadS)} s after the load; PostgreSQL ${
      round(r.drain.postgresRate)
    } rows/s, ClickHouse ${round(r.drain.clickhouseRate)} rows/s`,
    `check: ${c.ok ? 'OK' : 'FAILED'}`,
    `  PostgreSQL order_history: ${v(c.postgres)}`,
    `  ClickHouse events (FINAL): ${v(c.clickhouse)}; raw rows ${c.clickhouseRaw.rows}, merge-pending copies ${c.clickhouseRaw.mergePendingDuplicates}`,
    `  Redis page-view counters: ${c.redisPageViews.fields} URLs, under ${c.redisPageViews.under}, over ${c.redisPageViews.over}`,
    `  PostgreSQL orders: ${c.orders.rows} rows, expected ${c.orders.expectedAtLeast}..${c.orders.expectedAtMost}`,
  ].join('\n');
}

/** The report as JSON: histograms become their summaries. */
export function toJson(r: LoadtestReport): unknown {
  const { loadResult, ...rest } = r;
  const { latency: _l, corrected: _c, ...load } = loadResult;
  return { ...rest, loadResult: load };
}

function rateOf(n: number, firstMs: number, lastMs: number): number {
  return n > 1 && lastMs > firstMs ? ((n - 1) * 1000) / (lastMs - firstMs) : Number.NaN;
}

/** A typed array that grows on write; reads past the end give 0. */
class GrowingArray<A extends Int16Array | Uint8Array> {
  #a: A;
  constructor(readonly make: new (n: number) => A) {
    this.#a = new make(1 << 14);
  }
  get(i: number): number {
    return this.#a[i] ?? 0;
  }
  set(i: number, v: number): void {
    if (i >= this.#a.length) {
      const grown = new this.make(Math.max(i + 1, this.#a.length * 2));
      grown.set(this.#a);
      this.#a = grown;
    }
    this.#a[i] = v;
  }
}
