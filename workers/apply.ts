/**
 * Applies decoded events to every sink. PostgreSQL first, then the Redis order cache refreshed
 * from what PostgreSQL holds afterwards (so the cache can never be older than the record, even
 * when an earlier delivery wrote PostgreSQL and crashed before Redis); page-view counters and
 * ClickHouse alongside. Every write is idempotent, so applying the same events again is a no-op;
 * a step that failed can be retried alone (a failing PostgreSQL row must not make ClickHouse
 * write the batch again while the bad event is searched for).
 */
import type { OrderRow } from '../lib/order-cache.ts';
import { EventFailures, isOutage } from './errors.ts';
import type { ConsumedEvent } from '../lib/event.ts';
import type { ClickhouseSink } from './sinks/clickhouse-sink.ts';
import type { PostgresSink } from './sinks/postgres-sink.ts';
import type { RedisSink } from './sinks/redis-sink.ts';
import { inSinkSpan } from '../lib/tracing.ts';

export interface Sinks {
  postgres: PostgresSink;
  redis: RedisSink;
  clickhouse: ClickhouseSink;
  /** Called after each sink write with its duration, for metrics. */
  observe?: (sink: 'postgres' | 'redis' | 'clickhouse', seconds: number, events: number) => void;
}

/** The independent parts of applying a batch; a failed part can be retried alone. */
export type SinkStep = 'orders' | 'page_views' | 'clickhouse';
export const ALL_STEPS: ReadonlySet<SinkStep> = new Set(['orders', 'page_views', 'clickhouse']);

/**
 * Some steps failed (the others wrote everything). `retriable` when any failure is an outage,
 * so errors.ts isOutage() holds the batch instead of hunting for a bad event.
 */
export class ApplyError extends Error {
  readonly retriable: boolean;
  constructor(readonly failed: ReadonlySet<SinkStep>, readonly errors: unknown[]) {
    super(`${[...failed].join(', ')} failed: ${errors.map((e) => (e as Error)?.message ?? String(e)).join('; ')}`, { cause: errors[0] });
    this.retriable = errors.some(isOutage);
  }
}

/** Applies `events` to the sinks of `steps` (all by default); throws ApplyError naming the failed steps. */
export type Apply = (events: ConsumedEvent[], steps?: ReadonlySet<SinkStep>) => Promise<void>;

const DB_SYSTEM = { postgres: 'postgresql', redis: 'redis', clickhouse: 'clickhouse' } as const;

export function createApply({ postgres, redis, clickhouse, observe }: Sinks): Apply {
  /** One sink call, timed and in a span continuing its events' traces (lib/tracing.ts). */
  const timed = async (sink: 'postgres' | 'redis' | 'clickhouse', operation: string, n: number, events: ConsumedEvent[], write: () => Promise<unknown>) => {
    if (n === 0) return;
    const start = performance.now();
    await inSinkSpan(`${sink} ${operation}`, events, { 'db.system.name': DB_SYSTEM[sink], 'db.operation.name': operation }, write);
    observe?.(sink, (performance.now() - start) / 1000, n);
  };
  const run: Record<SinkStep, (events: ConsumedEvent[]) => Promise<void>> = {
    orders: async (events) => {
      const orders = events.filter((e) => e.topic === 'orders');
      let current: OrderRow[] = [];
      let failed = new Map<string, Error & { code?: string }>();
      await timed('postgres', 'ferry_apply_orders', orders.length, orders, async () => {
        const result = await postgres.applyOrders(orders);
        failed = new Map([...result.failures].map(([key, f]) => [key, Object.assign(new Error(f.message), { code: f.code })]));
        current = result.current;
      });
      // The cache follows what PostgreSQL holds, failed events or not.
      await timed('redis', 'refresh orders', current.length, orders, () => redis.refreshOrders(current));
      if (failed.size > 0) throw new EventFailures(failed);
    },
    page_views: async (events) => {
      const pageViews = events.filter((e) => e.topic === 'page_views');
      await timed('redis', 'count page views', pageViews.length, pageViews, () => redis.applyPageViews(pageViews));
    },
    clickhouse: (events) => timed('clickhouse', 'insert events', events.length, events, () => clickhouse.insert(events)),
  };
  return async function apply(events: ConsumedEvent[], steps: ReadonlySet<SinkStep> = ALL_STEPS): Promise<void> {
    if (events.length === 0) return;
    const list = [...steps];
    const results = await Promise.allSettled(list.map((step) => run[step](events)));
    const failed = new Set<SinkStep>();
    const errors: unknown[] = [];
    results.forEach((r, i) => {
      if (r.status === 'rejected') {
        failed.add(list[i]!);
        errors.push(r.reason);
      }
    });
    if (failed.size > 0) throw new ApplyError(failed, errors);
  };
}
