-- ferry_apply_orders plus the orders' rows as they stand afterwards, in one round trip: the
-- worker refreshes the Redis cache from these rows. Rows with failed_event_id set name an event
-- not applied, with failed_tenant (as ferry_apply_orders returns them); the others carry an
-- order (tenant set).
-- The second query runs after the first has written, so it sees every change of the batch.
-- The result gained failed_tenant, which CREATE OR REPLACE refuses.
DROP FUNCTION IF EXISTS ferry_apply_orders_current(text[], uuid[], text[], text[], text[], bigint[], text[], text[], timestamptz[], timestamptz[], int[], bigint[]);
CREATE FUNCTION ferry_apply_orders_current(
  p_tenant text[], p_event_id uuid[], p_order_id text[], p_customer_id text[], p_status text[], p_amount_cents bigint[],
  p_currency text[], p_items text[], p_occurred_at timestamptz[], p_received_at timestamptz[],
  p_partition int[], p_offset bigint[]
) RETURNS TABLE (
  failed_tenant text, failed_event_id uuid, error_code text, error_message text,
  tenant text, order_id text, customer_id text, status text, amount_cents bigint, currency text, items jsonb,
  occurred_at timestamptz, updated_at timestamptz, event_id uuid, source_offset bigint
) LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY
    SELECT f.failed_tenant, f.failed_event_id, f.error_code, f.error_message,
           NULL::text, NULL::text, NULL::text, NULL::text, NULL::bigint, NULL::text, NULL::jsonb,
           NULL::timestamptz, NULL::timestamptz, NULL::uuid, NULL::bigint
    FROM ferry_apply_orders(p_tenant, p_event_id, p_order_id, p_customer_id, p_status, p_amount_cents,
                            p_currency, p_items, p_occurred_at, p_received_at, p_partition, p_offset) AS f;
  RETURN QUERY
    SELECT NULL::text, NULL::uuid, NULL::text, NULL::text,
           o.tenant, o.order_id, o.customer_id, o.status, o.amount_cents, o.currency::text, o.items,
           o.occurred_at, o.updated_at, o.event_id, o.source_offset
    FROM orders AS o
    WHERE (o.tenant, o.order_id) IN (SELECT DISTINCT t, i FROM unnest(p_tenant, p_order_id) AS u(t, i));
END
$$;
