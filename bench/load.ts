/**
 * Drives HTTP load with autocannon (as a library) at a fixed offered rate.
 *
 * How autocannon paces (v8, lib/httpClient.js): `overallRate` is split over the connections;
 * each connection sends back to back until it has sent its share for the current second, then
 * waits for the next second. A request that could not be sent in its second (the connection
 * was still waiting for an answer) is never sent: the offered rate then shows up as a lower
 * answered rate, not as hidden latency. Two things this module adds:
 * - phases: all connections of one autocannon instance start their second together, so the
 *   load would come in one burst per second. The connections are split over `phases`
 *   instances started 1/phases of a second apart, which spreads the bursts.
 * - its own latency record. autocannon 8's coordinated-omission correction passes
 *   `Math.ceil(1 / rate)` (always 1) as the expected interval in ms whatever the rate, which
 *   over-corrects. Here every answer is recorded raw, and (fixed-rate runs) also corrected
 *   with the real interval of its connection, 1000 * connections / rate ms.
 */
import autocannon from 'autocannon';
import { Histogram } from './stats.ts';

export interface FixedRequest {
  path: string;
  body: string;
  /** Headers of this request only, over LoadOptions.headers. */
  headers?: Record<string, string>;
}

export interface LoadOptions {
  url: string;
  /** Concurrent connections over all phases. */
  connections: number;
  /** Offered requests per second over all connections. */
  rate: number;
  durationS: number;
  /** Stop after this many requests instead of after durationS (for filling a backlog). */
  amount?: number;
  /** autocannon instances started 1/phases s apart. @defaultValue min(10, connections) */
  phases?: number;
  /** Seconds before a request counts as timed out. @defaultValue 10 */
  timeoutS?: number;
  headers?: Record<string, string>;
  /** Record coordinated-omission corrected latencies too (only meaningful below saturation). */
  correct?: boolean;
  /**
   * Either a fixed pool of requests cycled through (built once: the cheapest for the load
   * generator), or a builder called for every request with its sequence number.
   */
  requests: FixedRequest[] | ((seq: number) => FixedRequest);
  /** Every answer of a built request, with the sequence number it was built with. */
  onAnswer?: (seq: number, status: number, body: string, headers: Record<string, string | string[]>) => void;
  /** Called about once a second while running. */
  onTick?: (progress: LoadProgress) => void;
}

export interface LoadProgress {
  elapsedS: number;
  durationS: number;
  /** Answers in the last second. */
  answeredLastS: number;
  ok: number;
  non2xx: number;
  errors: number;
}

export interface LoadResult {
  startedAt: number;
  endedAt: number;
  /** Seconds from the first instance's start to the last one's end. */
  durationS: number;
  offeredRate: number;
  connections: number;
  phases: number;
  sent: number;
  answered: number;
  ok: number;
  statusCounts: Record<string, number>;
  errors: number;
  timeouts: number;
  latency: Histogram;
  corrected: Histogram | undefined;
  /** The slowest answer of any status, ms (timeouts are counted in `timeouts` instead). */
  longestMs: number;
  /** Answers per whole second since the start. */
  perSecond: { t: number; answered: number; ok: number }[];
  /**
   * The window in which every phase was running (the stagger at both ends left out), and the
   * rates in it: the numbers to report.
   */
  steady: { fromS: number; toS: number; answeredRate: number; okRate: number };
  /** Sequence numbers handed out (built requests only); those with no answer are indeterminate. */
  built: number;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const phases = Math.max(1, Math.min(o.phases ?? 10, o.connections, Math.floor(o.rate)));
  const latency = new Histogram();
  const corrected = o.correct ? new Histogram() : undefined;
  const statusCounts: Record<string, number> = {};
  const perSecond: { t: number; answered: number; ok: number }[] = [];
  let ok = 0;
  let answered = 0;
  let errors = 0;
  let timeouts = 0;
  let sent = 0;
  let longestMs = 0;
  let nextSeq = 0;
  const startedAt = Date.now();
  // Answers per 100 ms since the start, for the steady window.
  const okBuckets: number[] = [];
  const answeredBuckets: number[] = [];
  const bucket = (list: number[]) => {
    const i = Math.floor((Date.now() - startedAt) / 100);
    while (list.length <= i) list.push(0);
    list[i]!++;
  };
  const headers = { 'content-type': 'application/json', ...o.headers };

  const requests: autocannon.Request[] = typeof o.requests === 'function'
    ? [
      {
        method: 'POST',
        headers,
        setupRequest: (req, context) => {
          const seq = nextSeq++;
          context.seq = seq;
          const r = (o.requests as (seq: number) => FixedRequest)(seq);
          return { ...req, path: r.path, body: r.body };
        },
        onResponse: (status, body, context, resHeaders) => o.onAnswer?.(context.seq as number, status, body, resHeaders),
      },
    ]
    : o.requests.map((r) => ({ method: 'POST', headers: r.headers ? { ...headers, ...r.headers } : headers, path: r.path, body: r.body }));

  const split = (total: number, i: number) => Math.floor(total / phases) + (i < total % phases ? 1 : 0);
  const instances: autocannon.Instance[] = [];
  const done: Promise<autocannon.Result>[] = [];
  let second = 0;
  let lastAnswered = 0;
  const ticker = setInterval(() => {
    second++;
    const inSecond = answered - lastAnswered;
    lastAnswered = answered;
    perSecond.push({ t: second, answered: inSecond, ok });
    o.onTick?.({ elapsedS: second, durationS: o.durationS, answeredLastS: inSecond, ok, non2xx: answered - ok, errors });
  }, 1000);

  for (let i = 0; i < phases; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 1000 / phases));
    const connections = split(o.connections, i);
    const rate = split(Math.floor(o.rate), i);
    const interval = (1000 * connections) / rate;
    done.push(
      new Promise((resolve, reject) => {
        const instance = autocannon(
          {
            url: o.url,
            connections,
            overallRate: rate,
            ...(o.amount ? { amount: Math.max(connections, split(o.amount, i)) } : { duration: o.durationS }),
            timeout: o.timeoutS ?? 10,
            // Our own histogram corrects with the right interval; autocannon's is unused.
            ignoreCoordinatedOmission: true,
            requests: requests.map((r) => ({ ...r })),
          },
          (err, result) => (err ? reject(err) : resolve(result)),
        );
        instance.on('response', (_client, status, _bytes, ms) => {
          answered++;
          if (ms > longestMs) longestMs = ms;
          bucket(answeredBuckets);
          statusCounts[status] = (statusCounts[status] ?? 0) + 1;
          if (status >= 200 && status < 300) {
            ok++;
            bucket(okBuckets);
            latency.record(ms);
            corrected?.recordCorrected(ms, interval);
          }
        });
        instance.on('reqError', () => {
          errors++;
        });
        instances.push(instance);
      }),
    );
  }
  const results = await Promise.all(done);
  clearInterval(ticker);
  const endedAt = Date.now();
  for (const r of results) {
    timeouts += r.timeouts;
    sent += r.requests.sent;
  }
  // Every phase runs durationS from its own start; the last one starts (phases - 1) / phases s late.
  const from = Math.ceil((10 * (phases - 1)) / phases);
  const to = Math.max(from + 1, Math.floor(o.durationS * 10));
  const sum = (list: number[]) => list.slice(from, to).reduce((a, b) => a + b, 0);
  const steady = { fromS: from / 10, toS: to / 10, answeredRate: sum(answeredBuckets) / ((to - from) / 10), okRate: sum(okBuckets) / ((to - from) / 10) };
  return {
    startedAt,
    endedAt,
    durationS: (endedAt - startedAt) / 1000,
    offeredRate: o.rate,
    connections: o.connections,
    phases,
    sent,
    answered,
    ok,
    statusCounts,
    errors,
    timeouts,
    latency,
    corrected,
    longestMs,
    perSecond,
    steady,
    built: nextSeq,
  };
}
