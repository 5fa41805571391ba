-- One set of events in one statement, in array order (the caller's arrays are in offset order
-- per partition, so an order's events are inserted in offset order). Exactly once in effect:
-- order_history is keyed by event id and only events whose history row is new here may touch
-- orders; orders moves only to a greater (occurred_at, source_offset), so a late older event
-- never moves a row back. DISTINCT ON: one statement may not update the same row twice. Events
-- of the orders in p_skip (see ferry_order_ref) are left out (they wait behind a failed event).
-- It counts the rows it reaches on a session-local sequence, which ferry_apply_orders reads
-- after a failure to find the row that stopped it.
CREATE OR REPLACE FUNCTION ferry_apply_orders_set(
  p_tenant text[], p_event_id uuid[], p_order_id text[], p_customer_id text[], p_status text[], p_amount_cents bigint[],
  p_currency text[], p_items text[], p_occurred_at timestamptz[], p_received_at timestamptz[],
  p_partition int[], p_offset bigint[], p_skip text[]
) RETURNS void LANGUAGE plpgsql AS $$
-- plpgsql, not sql: its statement plans are cached for the session, which the search below may
-- call many times in a row.
BEGIN
  WITH input AS (
    SELECT * FROM unnest(p_tenant, p_event_id, p_order_id, p_customer_id, p_status, p_amount_cents, p_currency, p_items,
                         p_occurred_at, p_received_at, p_partition, p_offset) WITH ORDINALITY
      AS t(tenant, event_id, order_id, customer_id, status, amount_cents, currency, items, occurred_at, received_at,
           source_partition, source_offset, ord)
    WHERE NOT (ferry_order_ref(tenant, order_id) = ANY (p_skip))
  ),
  history AS (
    INSERT INTO order_history (tenant, event_id, order_id, status, amount_cents, occurred_at, source_partition, source_offset, received_at)
    -- Subtle: nextval is volatile, so PostgreSQL evaluates it after the sort, once per row as
    -- the insert pulls it; the sequence then counts the rows reached, the failing one included
    -- (see ferry_apply_orders). The CASE leaves source_partition as it is.
    SELECT tenant, event_id, order_id, status, amount_cents, occurred_at,
           CASE WHEN nextval('pg_temp.ferry_apply_progress') > 0 THEN source_partition END, source_offset, received_at
    FROM input
    ORDER BY ord
    ON CONFLICT (tenant, event_id) DO NOTHING
    RETURNING tenant, event_id
  )
  INSERT INTO orders AS o (tenant, order_id, customer_id, status, amount_cents, currency, items, occurred_at, event_id,
                           source_partition, source_offset, received_at, updated_at)
  SELECT DISTINCT ON (tenant, order_id) tenant, order_id, customer_id, status, amount_cents, currency, items::jsonb, occurred_at, input.event_id,
         source_partition, source_offset, received_at, clock_timestamp()
  FROM input JOIN history USING (tenant, event_id)
  ORDER BY tenant, order_id, occurred_at DESC, source_offset DESC
  ON CONFLICT (tenant, order_id) DO UPDATE SET
    customer_id = excluded.customer_id, status = excluded.status, amount_cents = excluded.amount_cents,
    currency = excluded.currency, items = excluded.items, occurred_at = excluded.occurred_at,
    event_id = excluded.event_id, source_partition = excluded.source_partition,
    source_offset = excluded.source_offset, received_at = excluded.received_at, updated_at = excluded.updated_at
  WHERE (o.occurred_at, o.source_offset) < (excluded.occurred_at, excluded.source_offset);
END $$;
