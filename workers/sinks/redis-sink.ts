/**
 * The Redis cache: the order read model (version-guarded, see lib/order-cache.ts) and a
 * page-view counter per URL. A counter is not idempotent by itself, so each increment is
 * guarded, in the same script, by a marker per user (the topic's key): the Kafka position of
 * the last page view of that user that was counted. A user's page views are applied in offset
 * order (per-key order holds through retries, see workers/key-retries.ts), so a redelivered one is at or
 * before the marker and counts no more. One marker per user, not per event: Redis holds as
 * many markers as there are active users, whatever the event rate.
 */
import type { Redis } from 'ioredis';
import { chunks } from '../../lib/chunks.ts';
import { cacheOrders, type OrderRow } from '../../lib/order-cache.ts';
import type { ConsumedEvent, PageViewEvent } from '../../lib/event.ts';

/** Markers outlive Kafka's retention (7 days), after which no redelivery is possible. */
const SEEN_TTL_S = 8 * 24 * 60 * 60;

// KEYS: the counts hash, then one marker per page view. ARGV: ttl, then url, partition and
// offset (decimal string) per page view, in offset order. The page views of a batch go in one
// call (one command instead of one per event); a user seen twice in the batch meets the marker
// its earlier page view just set, as it would in separate calls.
// Offsets are compared as decimal strings (length, then digits): exact beyond 2^53. A marker
// from another partition (the topic was repartitioned) is replaced, not compared.
const COUNT_ONCE = `
local n = 0
for i = 2, #KEYS do
  local j = 3 * (i - 2) + 2
  local partition, offset = ARGV[j + 1], ARGV[j + 2]
  local counted = false
  local last = redis.call('GET', KEYS[i])
  if last then
    local sep = string.find(last, ':', 1, true)
    if sep and string.sub(last, 1, sep - 1) == partition then
      local o = string.sub(last, sep + 1)
      if #o > #offset or (#o == #offset and o >= offset) then counted = true end
    end
  end
  if not counted then
    redis.call('SET', KEYS[i], partition .. ':' .. offset, 'EX', ARGV[1])
    redis.call('HINCRBY', KEYS[1], ARGV[j], 1)
    n = n + 1
  end
end
return n`;

/** Page views per script call: bounds how long one call holds Redis (a script runs alone). */
const PER_CALL = 500;

type CounterCommands = { ferryCountOnce(numKeys: number, ...keysThenArgs: (string | number)[]): Promise<number> };

export class RedisSink {
  readonly #redis;

  constructor(redis: Redis, readonly prefix: string) {
    if (typeof (redis as unknown as Partial<CounterCommands>).ferryCountOnce !== 'function') {
      redis.defineCommand('ferryCountOnce', { lua: COUNT_ONCE });
    }
    this.#redis = redis as Redis & CounterCommands;
  }

  /** Key of the hash `url -> views`. */
  get pageViewsKey(): string {
    return `${this.prefix}page_views:by_url`;
  }

  /**
   * Writes the orders as PostgreSQL holds them (call after the PostgreSQL write). The version
   * guard keeps a slower writer from replacing a newer cached order.
   */
  refreshOrders(rows: OrderRow[]): Promise<void> {
    return cacheOrders(this.#redis, this.prefix, rows);
  }

  async applyPageViews(events: ConsumedEvent[]): Promise<void> {
    // One connection runs the calls in order: a user's later page view meets the marker an
    // earlier chunk set.
    await Promise.all(chunks(events, PER_CALL).map((chunk) => {
      const keys: string[] = [this.pageViewsKey];
      const args: (string | number)[] = [SEEN_TTL_S];
      for (const e of chunk) {
        keys.push(`${this.prefix}seen:pv:${e.key}`);
        args.push((e.value as unknown as PageViewEvent).url, e.partition, e.offset);
      }
      return this.#redis.ferryCountOnce(keys.length, ...keys, ...args);
    }));
  }
}
