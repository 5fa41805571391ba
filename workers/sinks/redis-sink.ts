/**
 * The Redis cache: the order read model (version-guarded, see lib/order-cache.ts) and a
 * page-view counter per URL, one hash per tenant. A counter is not idempotent by itself, so
 * each increment is guarded, in the same script, by a marker per tenant and user (the topic's
 * key): the Kafka position of the last page view of that user that was counted. A user's page
 * views are applied in offset order (per-key order holds through retries, see workers/key-retries.ts),
 * so a redelivered one is at or before the marker and counts no more. One marker per user, not
 * per event: Redis holds as many markers as there are active users, whatever the event rate.
 *
 * The same event can also be in Kafka twice, at two positions: a client retried a request whose
 * answer was lost after Kafka took it (the retry carries the same event ids; see Idempotency-Key
 * in docs/api.md). PostgreSQL and ClickHouse fold such copies by event id; here the marker also
 * keeps the ids of the user's last RECENT_IDS page views, so a copy that comes within that many
 * of the user's page views counts no more either.
 *
 * A tenant's hash is bounded, not expired: URLs are the client's choice, so only a cap on
 * distinct URLs keeps a tenant (or a script posting random URLs) from growing it without end,
 * while a TTL would either never fire on an active tenant or silently reset running totals.
 * Page views of new URLs past the cap count under OTHER_URLS.
 */
import type { Redis } from 'ioredis';
import { chunks } from '../../lib/chunks.ts';
import { cacheOrders, type OrderRow } from '../../lib/order-cache.ts';
import type { ConsumedEvent, PageViewEvent } from '../../lib/event.ts';

/** Markers outlive Kafka's retention (7 days), after which no redelivery is possible. */
const SEEN_TTL_S = 8 * 24 * 60 * 60;

/** The field counting page views of URLs past a tenant's cap (not a URL: those start with http). */
export const OTHER_URLS = '(other)';

/** Distinct URLs counted per tenant: each field is at most 2 KiB, so a tenant's hash stays under ~20 MiB. */
const MAX_URLS = 10_000;

/** Event ids a marker keeps: how many of a user's page views a retried copy may come behind. */
export const RECENT_IDS = 8;

// KEYS: per page view, its tenant's counts hash and its marker. ARGV: ttl, the cap on a hash's
// fields, how many ids a marker keeps, then url, partition, offset (decimal string) and event id
// ('' for none) per page view, in offset order. The page views of a batch go in one call (one
// command instead of one per event); a user seen twice in the batch meets the marker its earlier
// page view just set, as it would in separate calls.
// A marker is `<partition>:<offset>` then `|<id>` per recent id, newest first, and a closing `|`
// (a marker without ids is one an earlier release wrote). Offsets are compared as decimal strings
// (length, then digits): exact beyond 2^53. A marker from another partition (the topic was
// repartitioned) is replaced, not compared.
const COUNT_ONCE = `
local n = 0
local cap = tonumber(ARGV[2])
local keep = tonumber(ARGV[3])
for i = 1, #KEYS / 2 do
  local counts, marker = KEYS[2 * i - 1], KEYS[2 * i]
  local j = 4 * (i - 1) + 4
  local url, partition, offset, id = ARGV[j], ARGV[j + 1], ARGV[j + 2], ARGV[j + 3]
  local seen = false
  local copy = false
  local ids = '|'
  local last = redis.call('GET', marker)
  if last then
    local bar = string.find(last, '|', 1, true)
    local position = last
    if bar then
      position = string.sub(last, 1, bar - 1)
      ids = string.sub(last, bar)
    end
    local sep = string.find(position, ':', 1, true)
    if sep and string.sub(position, 1, sep - 1) == partition then
      local o = string.sub(position, sep + 1)
      if #o > #offset or (#o == #offset and o >= offset) then seen = true end
    end
    if not seen and id ~= '' and string.find(ids, '|' .. id .. '|', 1, true) then copy = true end
  end
  if not seen then
    if not copy and id ~= '' then
      ids = '|' .. id .. ids
      local at = 1
      for _ = 1, keep do
        at = string.find(ids, '|', at + 1, true)
        if not at then break end
      end
      if at then ids = string.sub(ids, 1, at) end
    end
    redis.call('SET', marker, partition .. ':' .. offset .. ids, 'EX', ARGV[1])
    if not copy then
      if redis.call('HEXISTS', counts, url) == 0 and redis.call('HLEN', counts) >= cap then url = '${OTHER_URLS}' end
      redis.call('HINCRBY', counts, url, 1)
      n = n + 1
    end
  end
end
return n`;

/** Page views per script call: bounds how long one call holds Redis (a script runs alone). */
const PER_CALL = 500;

type CounterCommands = { ferryCountOnce(numKeys: number, ...keysThenArgs: (string | number)[]): Promise<number> };

export class RedisSink {
  readonly #redis;
  readonly #maxUrls: number;

  /** @param maxUrls distinct URLs counted per tenant. @defaultValue 10 000 */
  constructor(redis: Redis, readonly prefix: string, maxUrls = MAX_URLS) {
    if (typeof (redis as unknown as Partial<CounterCommands>).ferryCountOnce !== 'function') {
      redis.defineCommand('ferryCountOnce', { lua: COUNT_ONCE });
    }
    this.#redis = redis as Redis & CounterCommands;
    this.#maxUrls = maxUrls;
  }

  /**
   * Key of the tenant's hash `url -> views`. The tenant comes from a record header, so it is
   * encoded: a `:` in it must not make two tenants' keys meet.
   */
  pageViewsKey(tenant: string): string {
    return `${this.prefix}page_views:${encodeURIComponent(tenant)}:by_url`;
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
    await Promise.all(
      chunks(events, PER_CALL).map((chunk) => {
        const keys: string[] = [];
        const args: (string | number)[] = [SEEN_TTL_S, this.#maxUrls, RECENT_IDS];
        // A chunk's events mostly share a tenant: its keys' parts are made once per run of it.
        let tenant: string | undefined;
        let counts = '';
        let seen = '';
        for (const e of chunk) {
          if (e.tenant !== tenant) {
            tenant = e.tenant;
            counts = this.pageViewsKey(tenant);
            seen = `${this.prefix}seen:pv:${encodeURIComponent(tenant)}:`;
          }
          keys.push(counts, seen + e.key);
          const v = e.value as unknown as PageViewEvent;
          // An id with the marker's separator in it (not a UUID: another producer's) is not kept.
          const id = typeof v.event_id === 'string' && !v.event_id.includes('|') ? v.event_id : '';
          args.push(v.url, e.partition, e.offset, id);
        }
        return this.#redis.ferryCountOnce(keys.length, ...keys, ...args);
      }),
    );
  }
}
