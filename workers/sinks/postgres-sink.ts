/**
 * PostgreSQL: the order read model and its history, one round trip per batch.
 *
 * Exactly once in effect: `order_history` is keyed by (tenant, event id), and only the events whose
 * history row is new in this statement may touch `orders` (a redelivered or replayed event
 * changes nothing); among those, `orders` moves only to a greater (occurred_at, source_offset)
 * version, so an older event arriving late never moves a row back. The statement lives in
 * migrations/postgres/repeatable/ (ferry_apply_orders_set.sql, ferry_apply_orders.sql): when the
 * batch fails for a reason of one of its events, the same call searches for it (going on from the
 * row that stopped the failed statement, the rest in ranges), applies everything else and names
 * the events it could not apply, so finding a bad event costs no extra round trips.
 */
import type { Sql } from 'postgres';
import type { OrderRow } from '../../lib/order-cache.ts';
import { type ConsumedEvent, type OrderEvent, tenantEventKey } from '../../lib/event.ts';
import { arrayJson, arrayLiteral, arrayNumber, arrayText } from './pg-array.ts';

/** Why an event was not applied: its own SQLSTATE and message, or `blocked` behind an earlier failed event of its order. */
export interface OrderFailure {
  code: string;
  message: string;
}

export class PostgresSink {
  constructor(readonly sql: Sql) {}

  /**
   * Applies `events` (in offset order) and returns the ones not applied, by tenantEventKey
   * (event ids are unique per tenant only; empty when all were applied), and the rows of their
   * orders as PostgreSQL holds them afterwards, read in the same round trip
   * (ferry_apply_orders_current). Throws only when the whole call failed (connection lost,
   * deadlock, ...).
   */
  async applyOrders(events: ConsumedEvent[]): Promise<{ failures: Map<string, OrderFailure>; current: OrderRow[] }> {
    const failures = new Map<string, OrderFailure>();
    const current: OrderRow[] = [];
    if (events.length === 0) return { failures, current };
    // The columns go as array literals built here ('{"a","b"}', see pg-array.ts): postgres.js
    // would escape every element with two regex passes and turn each timestamp back into a Date.
    const tenant: string[] = [];
    const eventId: string[] = [];
    const orderId: string[] = [];
    const customerId: string[] = [];
    const status: string[] = [];
    const amountCents: string[] = [];
    const currency: string[] = [];
    const items: string[] = [];
    const occurredAt: string[] = [];
    const receivedAt: string[] = [];
    const partition: string[] = [];
    const offset: string[] = [];
    for (const e of events) {
      const v = e.value as unknown as OrderEvent;
      tenant.push(arrayText(e.tenant));
      eventId.push(arrayText(v.event_id));
      orderId.push(arrayText(v.order_id));
      customerId.push(arrayText(v.customer_id));
      status.push(arrayText(v.status));
      amountCents.push(arrayNumber(v.amount_cents));
      currency.push(arrayText(v.currency));
      items.push(arrayJson(JSON.stringify(v.items)));
      occurredAt.push(new Date(v.occurred_at).toISOString());
      receivedAt.push(new Date(v.received_at).toISOString());
      partition.push(arrayNumber(e.partition));
      offset.push(arrayText(e.offset));
    }
    const rows = await this.sql<({ failed_tenant: string | null; failed_event_id: string | null; error_code: string; error_message: string } & OrderRow)[]>`
      SELECT failed_tenant, failed_event_id::text, error_code, error_message, tenant, order_id, customer_id, status, amount_cents, currency,
             items, occurred_at, updated_at, event_id, source_offset
      FROM ferry_apply_orders_current(
        ${arrayLiteral(tenant)}::text[], ${arrayLiteral(eventId)}::uuid[], ${arrayLiteral(orderId)}::text[], ${arrayLiteral(customerId)}::text[],
        ${arrayLiteral(status)}::text[], ${arrayLiteral(amountCents)}::bigint[], ${arrayLiteral(currency)}::text[], ${arrayLiteral(items)}::text[],
        ${arrayLiteral(occurredAt)}::timestamptz[], ${arrayLiteral(receivedAt)}::timestamptz[], ${arrayLiteral(partition)}::int[],
        ${arrayLiteral(offset)}::bigint[])`;
    for (const r of rows) {
      if (r.failed_event_id !== null) failures.set(tenantEventKey(r.failed_tenant!, r.failed_event_id), { code: r.error_code, message: r.error_message });
      else {
        const { failed_tenant: _t, failed_event_id: _f, error_code: _c, error_message: _m, ...row } = r;
        current.push(row);
      }
    }
    return { failures, current };
  }

  async ping(): Promise<void> {
    await this.sql`SELECT 1`;
  }
}
