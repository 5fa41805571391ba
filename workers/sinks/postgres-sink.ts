/**
 * PostgreSQL: the order read model and its history, one statement per batch.
 *
 * Exactly once in effect: `order_history` is keyed by event id, and only the events whose
 * history row is new in this statement may touch `orders` (a redelivered or replayed event
 * changes nothing); among those, `orders` moves only to a greater (occurred_at, source_offset)
 * version, so an older event arriving late never moves a row back.
 */
import type { Sql } from 'postgres';
import { selectOrders, type OrderRow } from '../../lib/order-cache.ts';
import type { ConsumedEvent, OrderEvent } from '../event.ts';

export class PostgresSink {
  constructor(readonly sql: Sql) {}

  async applyOrders(events: ConsumedEvent[]): Promise<void> {
    if (events.length === 0) return;
    const cols = {
      event_id: [] as string[],
      order_id: [] as string[],
      customer_id: [] as string[],
      status: [] as string[],
      amount_cents: [] as string[],
      currency: [] as string[],
      items: [] as string[],
      occurred_at: [] as string[],
      received_at: [] as string[],
      partition: [] as number[],
      offset: [] as string[],
    };
    for (const e of events) {
      const v = e.value as unknown as OrderEvent;
      cols.event_id.push(v.event_id);
      cols.order_id.push(v.order_id);
      cols.customer_id.push(v.customer_id);
      cols.status.push(v.status);
      cols.amount_cents.push(String(v.amount_cents));
      cols.currency.push(v.currency);
      cols.items.push(JSON.stringify(v.items));
      cols.occurred_at.push(new Date(v.occurred_at).toISOString());
      cols.received_at.push(new Date(v.received_at).toISOString());
      cols.partition.push(e.partition);
      cols.offset.push(e.offset);
    }
    // One round trip: unnest the columns, record history, then upsert the newest event per
    // order (DISTINCT ON: one statement may not update the same row twice).
    await this.sql`
      WITH input AS (
        SELECT * FROM unnest(
          ${cols.event_id}::uuid[], ${cols.order_id}::text[], ${cols.customer_id}::text[], ${cols.status}::text[],
          ${cols.amount_cents}::bigint[], ${cols.currency}::text[], ${cols.items}::text[], ${cols.occurred_at}::timestamptz[],
          ${cols.received_at}::timestamptz[], ${cols.partition}::int[], ${cols.offset}::bigint[]
        ) AS t(event_id, order_id, customer_id, status, amount_cents, currency, items, occurred_at, received_at, source_partition, source_offset)
      ),
      history AS (
        INSERT INTO order_history (event_id, order_id, status, amount_cents, occurred_at, source_partition, source_offset, received_at)
        SELECT event_id, order_id, status, amount_cents, occurred_at, source_partition, source_offset, received_at FROM input
        ORDER BY source_partition, source_offset
        ON CONFLICT (event_id) DO NOTHING
        RETURNING event_id
      )
      INSERT INTO orders AS o (order_id, customer_id, status, amount_cents, currency, items, occurred_at, event_id,
                               source_partition, source_offset, received_at, updated_at)
      SELECT DISTINCT ON (order_id) order_id, customer_id, status, amount_cents, currency, items::jsonb, occurred_at, input.event_id,
             source_partition, source_offset, received_at, clock_timestamp()
      FROM input JOIN history USING (event_id)
      ORDER BY order_id, occurred_at DESC, source_offset DESC
      ON CONFLICT (order_id) DO UPDATE SET
        customer_id = excluded.customer_id, status = excluded.status, amount_cents = excluded.amount_cents,
        currency = excluded.currency, items = excluded.items, occurred_at = excluded.occurred_at,
        event_id = excluded.event_id, source_partition = excluded.source_partition,
        source_offset = excluded.source_offset, received_at = excluded.received_at, updated_at = excluded.updated_at
      WHERE (o.occurred_at, o.source_offset) < (excluded.occurred_at, excluded.source_offset)`;
  }

  /** The orders as PostgreSQL holds them now, for refreshing the cache. */
  currentOrders(orderIds: string[]): Promise<OrderRow[]> {
    return selectOrders(this.sql, orderIds);
  }

  async ping(): Promise<void> {
    await this.sql`SELECT 1`;
  }
}
