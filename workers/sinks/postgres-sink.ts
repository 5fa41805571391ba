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
import { arrayLiteral, escapeText, quotedJson, textArrayLiteral } from './pg-array.ts';

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
    // The columns go as array literals built here (pg-array.ts), one join per column.
    const tenant: string[] = [];
    const eventId: string[] = [];
    const orderId: string[] = [];
    const customerId: string[] = [];
    const status: string[] = [];
    const amountCents: number[] = [];
    const currency: string[] = [];
    const items: string[] = [];
    const occurredAt: string[] = [];
    const receivedAt: string[] = [];
    const partition: number[] = [];
    const offset: string[] = [];
    // Events of one request share received_at (and often occurred_at), and a partition's
    // batch holds them in a row: each timestamp is formatted again only when it changes.
    let occurredMs = Number.NaN;
    let occurredIso = '';
    let receivedMs = Number.NaN;
    let receivedIso = '';
    for (const e of events) {
      const v = e.value as unknown as OrderEvent;
      tenant.push(escapeText(e.tenant));
      eventId.push(escapeText(v.event_id));
      orderId.push(escapeText(v.order_id));
      customerId.push(escapeText(v.customer_id));
      status.push(escapeText(v.status));
      amountCents.push(v.amount_cents);
      currency.push(escapeText(v.currency));
      items.push(quotedJson(JSON.stringify(v.items)));
      if (v.occurred_at !== occurredMs) occurredIso = new Date(occurredMs = v.occurred_at).toISOString();
      if (v.received_at !== receivedMs) receivedIso = new Date(receivedMs = v.received_at).toISOString();
      occurredAt.push(occurredIso);
      receivedAt.push(receivedIso);
      partition.push(e.partition);
      offset.push(escapeText(e.offset));
    }
    const rows = await this.sql<({ failed_tenant: string | null; failed_event_id: string | null; error_code: string; error_message: string } & OrderRow)[]>`
      SELECT failed_tenant, failed_event_id::text, error_code, error_message, tenant, order_id, customer_id, status, amount_cents, currency,
             items, occurred_at, updated_at, event_id, source_offset
      FROM ferry_apply_orders_current(
        ${textArrayLiteral(tenant)}::text[], ${textArrayLiteral(eventId)}::uuid[], ${textArrayLiteral(orderId)}::text[],
        ${textArrayLiteral(customerId)}::text[], ${textArrayLiteral(status)}::text[], ${arrayLiteral(amountCents)}::bigint[],
        ${textArrayLiteral(currency)}::text[], ${arrayLiteral(items)}::text[], ${arrayLiteral(occurredAt)}::timestamptz[],
        ${arrayLiteral(receivedAt)}::timestamptz[], ${arrayLiteral(partition)}::int[], ${textArrayLiteral(offset)}::bigint[])`;
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
