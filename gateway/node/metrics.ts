/**
 * Prometheus metrics for the Node gateway (prom-client), injected into the runtime-agnostic
 * app as a middleware and the GET /metrics handler.
 *
 * The gateway runs GATEWAY_PROCESSES processes behind one port, so a scrape lands on one of
 * them at random. The process that gets it asks the primary, which gathers every process's
 * registry over cluster IPC (prom-client's AggregatorRegistry) and answers with the sum: one
 * scrape sees the whole host.
 */
import cluster from 'node:cluster';
import { timingSafeEqual } from 'node:crypto';
import type { Context, Handler, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { problem } from '../../lib/problem.ts';
import { PendingCounts, type PendingSeries } from './pending-counts.ts';
import type { Delivery, EventProducer, OutgoingRecord } from '../../lib/kafka/event-producer.ts';

const ASK = 'ferry:gateway-metrics';
const ANSWER = 'ferry:gateway-metrics-answer';

export interface GatewayMetricsOptions {
  /** Reads the producer's records awaiting Kafka's ack. */
  inFlight?: () => number;
  /** The producer's in-flight bound. */
  maxInFlight?: number;
  /** Requests waiting for applied events (`Prefer: wait`). */
  waiting?: () => number;
  /** When set, /metrics needs `Authorization: Bearer <token>`. */
  token?: string;
}

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #duration: Histogram<'method' | 'route'>;
  readonly #produce: Histogram<'outcome'>;
  readonly #records: Counter<'outcome' | 'code'>;
  readonly #requestCounts = new PendingCounts<'method' | 'route' | 'status'>();
  readonly #recordCounts = new PendingCounts<'outcome' | 'code'>();
  #asks = 0;
  readonly #pending = new Map<number, (text: string) => void>();

  constructor(readonly options: GatewayMetricsOptions = {}) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'ferry_gateway_' });
    const requestCounts = this.#requestCounts;
    const recordCounts = this.#recordCounts;
    new Counter({
      name: 'ferry_gateway_http_requests_total',
      help: 'HTTP requests by route and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
      collect() {
        requestCounts.flush(this);
      },
    });
    this.#duration = new Histogram({
      name: 'ferry_gateway_http_request_duration_seconds',
      help: 'Time to answer, by route.',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#produce = new Histogram({
      name: 'ferry_gateway_produce_duration_seconds',
      help: "Time from handing a request's records to the producer until Kafka acknowledged or failed every one (acks=all).",
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#records = new Counter({
      name: 'ferry_gateway_produced_records_total',
      help: 'Records by outcome (accepted, failed) and failure code.',
      labelNames: ['outcome', 'code'],
      registers,
      collect() {
        recordCounts.flush(this);
      },
    });
    const { inFlight, maxInFlight, waiting } = options;
    new Gauge({
      name: 'ferry_gateway_producer_in_flight',
      help: 'Records handed to librdkafka and not yet acknowledged (its queue depth as the gateway sees it).',
      registers,
      collect() {
        this.set(inFlight?.() ?? 0);
      },
    });
    new Gauge({
      name: 'ferry_gateway_producer_max_in_flight',
      help: 'The in-flight bound; at it the gateway answers 503.',
      registers,
      collect() {
        this.set(maxInFlight ?? 0);
      },
    });
    new Gauge({
      name: 'ferry_gateway_applied_waiters',
      help: 'Event ids that requests with Prefer: wait are waiting on.',
      registers,
      collect() {
        this.set(waiting?.() ?? 0);
      },
    });

    if (cluster.isWorker) {
      // Answers the primary's gathering (prom-client's own IPC protocol) with this registry...
      new AggregatorRegistry();
      AggregatorRegistry.setRegistries([this.registry]);
      // ...and receives the host-wide text this process asked the primary for.
      process.on('message', (m: { type?: string; id?: number; text?: string }) => {
        if (m?.type !== ANSWER || typeof m.id !== 'number') return;
        this.#pending.get(m.id)?.(m.text ?? '');
        this.#pending.delete(m.id);
      });
    }
  }

  /** Counts and times every request; the route label is the matched pattern, never the raw path. */
  middleware(): MiddlewareHandler {
    const requests = this.#requestCounts;
    const duration = this.#duration;
    // Label children and pending counts, made once per label values: prom-client otherwise
    // builds and checks a labels object on every call. The values are bounded: Node's parser
    // takes a fixed set of methods, the routes are the app's, statuses are three digits.
    const timers = new Map<string, Histogram.Internal<'method' | 'route'>>();
    const counters = new Map<string, PendingSeries>();
    return async function metrics(c, next) {
      const start = performance.now();
      await next();
      const seconds = (performance.now() - start) / 1000;
      const route = matchedRoute(c);
      const method = c.req.method;
      const status = c.res.status;
      const key = `${method} ${route}`;
      let timer = timers.get(key);
      if (!timer) timers.set(key, timer = duration.labels(method, route));
      timer.observe(seconds);
      const countKey = `${key} ${status}`;
      let counter = counters.get(countKey);
      if (!counter) counters.set(countKey, counter = requests.series({ method, route, status: String(status) }));
      counter.count++;
    };
  }

  /** Wraps a producer to time every send and count records by outcome. */
  instrument(producer: EventProducer): EventProducer {
    const histogram = this.#produce;
    const records = this.#records;
    const timers = { ok: histogram.labels('ok'), partial: histogram.labels('partial'), failed: histogram.labels('failed'), error: histogram.labels('error') };
    const accepted = this.#recordCounts.series({ outcome: 'accepted', code: '' });
    return {
      send(batch: OutgoingRecord[]): Promise<Delivery[]> {
        const start = performance.now();
        return producer.send(batch).then(
          (deliveries) => {
            let failed = 0;
            for (const d of deliveries) if (!d.ok) failed++;
            const outcome = failed === 0 ? 'ok' : failed === deliveries.length ? 'failed' : 'partial';
            timers[outcome].observe((performance.now() - start) / 1000);
            accepted.count += deliveries.length - failed;
            if (failed > 0) { for (const d of deliveries) if (!d.ok) records.inc({ outcome: 'failed', code: d.error.code ?? 'unknown' }); }
            return deliveries;
          },
          (err) => {
            timers.error.observe((performance.now() - start) / 1000);
            throw err;
          },
        );
      },
      ready: () => producer.ready(),
      close: () => producer.close(),
    };
  }

  /** GET /metrics: the whole host's metrics when clustered, this process's otherwise. */
  handler(): Handler {
    const expected = this.options.token ? new TextEncoder().encode(`Bearer ${this.options.token}`) : undefined;
    return async (c) => {
      if (expected) {
        const given = new TextEncoder().encode(c.req.header('authorization') ?? '');
        if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
          return problem(c, 401, 'Unauthorized', 'send Authorization: Bearer <METRICS_TOKEN>', {}, { 'www-authenticate': 'Bearer realm="ferry-metrics"' });
        }
      }
      const text = cluster.isWorker && process.send ? await this.#fromPrimary() : await this.registry.metrics();
      return c.body(text, 200, { 'content-type': this.registry.contentType });
    };
  }

  #fromPrimary(): Promise<string> {
    const id = ++this.#asks;
    return new Promise<string>((resolve) => {
      const timer = setTimeout(() => {
        // The primary did not answer: this process's own metrics beat none.
        this.#pending.delete(id);
        void this.registry.metrics().then(resolve);
      }, 5000);
      this.#pending.set(id, (text) => {
        clearTimeout(timer);
        if (text) resolve(text);
        else void this.registry.metrics().then(resolve);
      });
      process.send!({ type: ASK, id });
    });
  }
}

/** The pattern of the route that answered (the last matched that is not middleware), or `unmatched`. */
function matchedRoute(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) if (routes[i]!.method !== 'ALL') return routes[i]!.path;
  return 'unmatched';
}

/** In the cluster primary: answers a process's request for the host-wide metrics. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, m: { type?: string; id?: number }) => {
    if (m?.type !== ASK) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: ANSWER, id: m.id, text }),
      () => worker.send({ type: ANSWER, id: m.id, text: '' }),
    );
  });
}
