/**
 * The Redis cache: the order read model (version-guarded, see lib/order-cache.ts) and a
 * page-view counter per URL. A counter is not idempotent by itself, so each increment is
 * guarded by a per-event marker set in the same script: a redelivered event counts once.
 */
import type { Redis } from 'ioredis';
import { ORDER_TTL_MS, orderDoc, orderKey, rowVersion, withOrderCommands, type OrderRow } from '../../lib/order-cache.ts';
import type { ConsumedEvent, PageViewEvent } from '../event.ts';

/** Markers outlive Kafka's retention (7 days), after which no redelivery is possible. */
const SEEN_TTL_S = 8 * 24 * 60 * 60;

const COUNT_ONCE = `
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
  return 1
end
return 0`;

type CounterCommands = { ferryCountOnce(seenKey: string, countsKey: string, field: string, ttlSeconds: number): Promise<number> };

export class RedisSink {
  readonly #redis;

  constructor(redis: Redis, readonly prefix: string) {
    const r = withOrderCommands(redis);
    if (typeof (r as unknown as Partial<CounterCommands>).ferryCountOnce !== 'function') {
      r.defineCommand('ferryCountOnce', { numberOfKeys: 2, lua: COUNT_ONCE });
    }
    this.#redis = r as typeof r & CounterCommands;
  }

  /** Key of the hash `url -> views`. */
  get pageViewsKey(): string {
    return `${this.prefix}page_views:by_url`;
  }

  /**
   * Writes the orders as PostgreSQL holds them (call after the PostgreSQL write). The version
   * guard keeps a slower writer from replacing a newer cached order.
   */
  async refreshOrders(rows: OrderRow[]): Promise<void> {
    if (rows.length === 0) return;
    const p = this.#redis.pipeline() as unknown as ReturnType<typeof withOrderCommands>;
    for (const row of rows) {
      p.ferrySetOrderIfNewer(orderKey(this.prefix, row.order_id), rowVersion(row), JSON.stringify(orderDoc(row)), ORDER_TTL_MS);
    }
    await execOrThrow(p as unknown as ReturnType<Redis['pipeline']>);
  }

  async applyPageViews(events: ConsumedEvent[]): Promise<void> {
    if (events.length === 0) return;
    const p = this.#redis.pipeline();
    for (const e of events) {
      const v = e.value as unknown as PageViewEvent;
      (p as unknown as CounterCommands).ferryCountOnce(`${this.prefix}seen:pv:${v.event_id}`, this.pageViewsKey, v.url, SEEN_TTL_S);
    }
    await execOrThrow(p);
  }
}

async function execOrThrow(p: ReturnType<Redis['pipeline']>): Promise<void> {
  const results = await p.exec();
  for (const [err] of results ?? []) if (err) throw err;
}
