/**
 * The Redis cache: the order read model (version-guarded, see lib/order-cache.ts) and a
 * page-view counter per URL. A counter is not idempotent by itself, so each increment is
 * guarded, in the same script, by a marker per user (the topic's key): the Kafka position of
 * the last page view of that user that was counted. A user's page views are applied in offset
 * order (per-key order holds through retries, see key-retries.ts), so a redelivered one is at or
 * before the marker and counts no more. One marker per user, not per event: Redis holds as
 * many markers as there are active users, whatever the event rate.
 */
import type { Redis } from 'ioredis';
import { ORDER_TTL_MS, orderDoc, orderKey, rowVersion, withOrderCommands, type OrderRow } from '../../lib/order-cache.ts';
import type { ConsumedEvent, PageViewEvent } from '../event.ts';

/** Markers outlive Kafka's retention (7 days), after which no redelivery is possible. */
const SEEN_TTL_S = 8 * 24 * 60 * 60;

// KEYS: marker, counts hash. ARGV: url, partition, offset (decimal string), ttl.
// Offsets are compared as decimal strings (length, then digits): exact beyond 2^53. A marker
// from another partition (the topic was repartitioned) is replaced, not compared.
const COUNT_ONCE = `
local last = redis.call('GET', KEYS[1])
if last then
  local sep = string.find(last, ':', 1, true)
  if sep and string.sub(last, 1, sep - 1) == ARGV[2] then
    local o = string.sub(last, sep + 1)
    if #o > #ARGV[3] or (#o == #ARGV[3] and o >= ARGV[3]) then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[2] .. ':' .. ARGV[3], 'EX', ARGV[4])
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
return 1`;

type CounterCommands = { ferryCountOnce(seenKey: string, countsKey: string, field: string, partition: number, offset: string, ttlSeconds: number): Promise<number> };

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
      p.ferrySetOrderIfNewer(orderKey(this.prefix, row.tenant, row.order_id), rowVersion(row), JSON.stringify(orderDoc(row)), ORDER_TTL_MS);
    }
    await execOrThrow(p as unknown as ReturnType<Redis['pipeline']>);
  }

  async applyPageViews(events: ConsumedEvent[]): Promise<void> {
    if (events.length === 0) return;
    const p = this.#redis.pipeline();
    for (const e of events) {
      const v = e.value as unknown as PageViewEvent;
      (p as unknown as CounterCommands).ferryCountOnce(`${this.prefix}seen:pv:${e.key}`, this.pageViewsKey, v.url, e.partition, e.offset, SEEN_TTL_S);
    }
    await execOrThrow(p);
  }
}

async function execOrThrow(p: ReturnType<Redis['pipeline']>): Promise<void> {
  const results = await p.exec();
  for (const [err] of results ?? []) if (err) throw err;
}
