/**
 * Applies decoded events to every sink. PostgreSQL first, then the Redis order cache refreshed
 * from what PostgreSQL holds afterwards (so the cache can never be older than the record, even
 * when an earlier delivery wrote PostgreSQL and crashed before Redis); page-view counters and
 * ClickHouse alongside. Every write is idempotent, so applying the same events again is a no-op.
 */
import type { OrderRow } from '../lib/order-cache.ts';
import type { ConsumedEvent } from './event.ts';
import type { ClickhouseSink } from './sinks/clickhouse-sink.ts';
import type { PostgresSink } from './sinks/postgres-sink.ts';
import type { RedisSink } from './sinks/redis-sink.ts';

export interface Sinks {
  postgres: PostgresSink;
  redis: RedisSink;
  clickhouse: ClickhouseSink;
  /** Called after each sink write with its duration, for metrics. */
  observe?: (sink: 'postgres' | 'redis' | 'clickhouse', seconds: number, events: number) => void;
}

export type Apply = (events: ConsumedEvent[]) => Promise<void>;

export function createApply({ postgres, redis, clickhouse, observe }: Sinks): Apply {
  const timed = async (sink: 'postgres' | 'redis' | 'clickhouse', n: number, write: () => Promise<unknown>) => {
    if (n === 0) return;
    const start = performance.now();
    await write();
    observe?.(sink, (performance.now() - start) / 1000, n);
  };
  return async function apply(events: ConsumedEvent[]): Promise<void> {
    if (events.length === 0) return;
    const orders = events.filter((e) => e.topic === 'orders');
    const pageViews = events.filter((e) => e.topic === 'page_views');
    let current: OrderRow[] = [];
    await Promise.all([
      (async () => {
        await timed('postgres', orders.length, async () => {
          await postgres.applyOrders(orders);
          return (current = await postgres.currentOrders([...new Set(orders.map((e) => String(e.value.order_id)))]));
        });
        await timed('redis', current.length, () => redis.refreshOrders(current));
      })(),
      timed('redis', pageViews.length, () => redis.applyPageViews(pageViews)),
      timed('clickhouse', events.length, () => clickhouse.insert(events)),
    ]);
  };
}
