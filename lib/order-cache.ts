/**
 * The order read model in Redis, shared by the worker (writes) and the gateway (reads and
 * refills). Each entry carries the version of the event that produced it, and a write only
 * lands when it is newer: so a late refill from PostgreSQL or a redelivered event can never
 * move the cache back to an older order.
 */
import type { Redis } from 'ioredis';
import type { Sql } from 'postgres';
import type { OrderEvent } from '../schemas/types.generated.ts';
import { chunks } from './chunks.ts';

/** Cached orders expire so the cache holds hot orders only; PostgreSQL is the record. @defaultValue 24 h */
export const ORDER_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * Versions compare as strings: occurred_at in ms, then the Kafka offset (both zero-padded),
 * the same order PostgreSQL uses for `(occurred_at, source_offset)`.
 */
export function orderVersion(occurredAtMs: number, offset: string | number | bigint): string {
  return `${String(occurredAtMs).padStart(15, '0')}:${String(offset).padStart(20, '0')}`;
}

/** An order of a tenant: orders are per tenant (two tenants may use the same order id). */
export interface OrderRef {
  tenant: string;
  orderId: string;
}

/** The tenant is URI-encoded so that no tenant/order pair can spell another's key. */
export function orderKey(prefix: string, tenant: string, orderId: string): string {
  return `${prefix}order:${encodeURIComponent(tenant)}:${orderId}`;
}

// KEYS: the orders' keys. ARGV: ttl, then a version and a doc per key. Each order is written
// only when its version is newer than the cached one. Many orders per call: each command costs
// the caller a round trip, and Redis a script call.
const SET_IF_NEWER = `
local n = 0
for i = 1, #KEYS do
  local cur = redis.call('HGET', KEYS[i], 'v')
  local v = ARGV[2 * i]
  if not (cur and cur >= v) then
    redis.call('HSET', KEYS[i], 'v', v, 'doc', ARGV[2 * i + 1])
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
    n = n + 1
  end
end
return n`;

/** Orders per script call: bounds how long one call holds Redis (a script runs alone). */
const ORDERS_PER_CALL = 500;

type OrderCommands = { ferrySetOrdersIfNewer(numKeys: number, ...keysThenArgs: (string | number)[]): Promise<number> };

/**
 * Caches the orders as `rows` hold them, each only over an older cached version: the worker
 * after its PostgreSQL write, the gateway when it refills a miss from PostgreSQL.
 */
export async function cacheOrders(redis: Redis, prefix: string, rows: OrderRow[]): Promise<void> {
  const r = redis as Redis & Partial<OrderCommands>;
  // No numberOfKeys: the caller passes the count first.
  if (typeof r.ferrySetOrdersIfNewer !== 'function') redis.defineCommand('ferrySetOrdersIfNewer', { lua: SET_IF_NEWER });
  // One connection runs the calls in order, so a later chunk never overtakes an earlier one.
  await Promise.all(
    chunks(rows, ORDERS_PER_CALL).map((chunk) => {
      const keys = chunk.map((row) => orderKey(prefix, row.tenant, row.order_id));
      const args: (string | number)[] = [ORDER_TTL_MS];
      for (const row of chunk) args.push(rowVersion(row), JSON.stringify(orderDoc(row)));
      return (r as Redis & OrderCommands).ferrySetOrdersIfNewer(keys.length, ...keys, ...args);
    }),
  );
}

/**
 * An `orders` row as both the gateway read model and the worker select it: the order event's
 * fields as PostgreSQL returns them (bigint as text, timestamptz as Date), with the tenant and
 * the version.
 */
export type OrderRow = Omit<OrderEvent, 'received_at' | 'occurred_at' | 'amount_cents' | 'status'> & {
  tenant: string;
  /** An OrderStatus (the column's CHECK), read as text. */
  status: string;
  amount_cents: string;
  occurred_at: Date;
  updated_at: Date;
  source_offset: string;
};

/** The cached and served shape of an order. */
export function orderDoc(row: OrderRow) {
  return {
    order_id: row.order_id,
    customer_id: row.customer_id,
    status: row.status,
    amount_cents: Number(row.amount_cents),
    currency: row.currency,
    items: row.items,
    occurred_at: occurredIso(row.occurred_at),
    updated_at: updatedIso(row.updated_at),
    event_id: row.event_id,
  };
}

/**
 * toISOString that formats again only when the time differs from the last one it saw: the rows
 * of one write mostly share occurred_at, and their updated_at to the millisecond.
 */
function isoOfLast(): (d: Date) => string {
  let ms = Number.NaN;
  let iso = '';
  return (d) => {
    const t = d.getTime();
    if (t !== ms) {
      iso = d.toISOString();
      ms = t;
    }
    return iso;
  };
}
const occurredIso = isoOfLast();
const updatedIso = isoOfLast();

export function rowVersion(row: OrderRow): string {
  return orderVersion(row.occurred_at.getTime(), row.source_offset);
}

/** The current rows of these orders, as both the worker (cache refresh) and the gateway (cache miss) read them. */
export function selectOrders(sql: Sql, refs: OrderRef[]): Promise<OrderRow[]> {
  if (refs.length === 0) return Promise.resolve([]);
  return sql<OrderRow[]>`
    SELECT tenant, order_id, customer_id, status, amount_cents, currency, items, occurred_at, updated_at, event_id, source_offset
    FROM orders
    WHERE (tenant, order_id) IN (SELECT * FROM unnest(${refs.map((r) => r.tenant)}::text[], ${refs.map((r) => r.orderId)}::text[]))`;
}
