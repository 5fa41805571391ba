-- Applying order events lives in the database, so that one round trip both applies a batch and,
-- when one of its events fails, finds it (see workers/sinks/postgres-sink.ts).

-- One set of events in one statement. Exactly once in effect: order_history is keyed by event
-- id and only events whose history row is new here may touch orders; orders moves only to a
-- greater (occurred_at, source_offset), so a late older event never moves a row back.
-- DISTINCT ON: one statement may not update the same row twice.
CREATE FUNCTION ferry_apply_orders_set(
  p_event_id uuid[], p_order_id text[], p_customer_id text[], p_status text[], p_amount_cents bigint[],
  p_currency text[], p_items text[], p_occurred_at timestamptz[], p_received_at timestamptz[],
  p_partition int[], p_offset bigint[]
) RETURNS void LANGUAGE plpgsql AS $$
-- plpgsql, not sql: its statement plans are cached for the session, which the event-by-event
-- path below calls hundreds of times in a row.
BEGIN
  WITH input AS (
    SELECT * FROM unnest(p_event_id, p_order_id, p_customer_id, p_status, p_amount_cents, p_currency, p_items,
                         p_occurred_at, p_received_at, p_partition, p_offset)
      AS t(event_id, order_id, customer_id, status, amount_cents, currency, items, occurred_at, received_at,
           source_partition, source_offset)
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
  WHERE (o.occurred_at, o.source_offset) < (excluded.occurred_at, excluded.source_offset);
END $$;

-- Failures that pass with time (connection, resources, shutdown, conflicts): they abort the
-- whole call so the worker holds the batch, instead of being pinned on one event.
CREATE FUNCTION ferry_transient_sqlstate(state text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT left(state, 2) IN ('08', '53', '57', '58') OR state IN ('40001', '40P01', '55P03')
$$;

-- A batch (arrays in offset order). The whole set first, in a subtransaction; if that fails
-- for a reason of its own, event by event, each in its own subtransaction (tried twice), so every event
-- that can be applied is, in order. Returns the events not applied: the one that failed
-- (with its SQLSTATE and message) and the later events of its order, which must wait behind
-- it ('blocked'). An empty result means the whole batch was applied.
CREATE FUNCTION ferry_apply_orders(
  p_event_id uuid[], p_order_id text[], p_customer_id text[], p_status text[], p_amount_cents bigint[],
  p_currency text[], p_items text[], p_occurred_at timestamptz[], p_received_at timestamptz[],
  p_partition int[], p_offset bigint[]
) RETURNS TABLE (failed_event_id uuid, error_code text, error_message text) LANGUAGE plpgsql AS $$
DECLARE
  i int;
  attempt int;
  failed_orders text[] := '{}';
  state text;
  msg text;
BEGIN
  BEGIN
    PERFORM ferry_apply_orders_set(p_event_id, p_order_id, p_customer_id, p_status, p_amount_cents, p_currency,
                                   p_items, p_occurred_at, p_received_at, p_partition, p_offset);
    RETURN;
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
    IF ferry_transient_sqlstate(state) THEN RAISE; END IF;
  END;
  FOR i IN 1 .. coalesce(array_length(p_event_id, 1), 0) LOOP
    IF p_order_id[i] = ANY (failed_orders) THEN
      failed_event_id := p_event_id[i]; error_code := 'blocked'; error_message := 'an earlier event of this order failed';
      RETURN NEXT;
      CONTINUE;
    END IF;
    -- Twice: a failure that passes on an immediate second try (a trigger's lock, a race) costs
    -- nothing more; one that does not is named, and the worker retries it later with backoff.
    FOR attempt IN 1 .. 2 LOOP
      BEGIN
        PERFORM ferry_apply_orders_set(ARRAY[p_event_id[i]], ARRAY[p_order_id[i]], ARRAY[p_customer_id[i]],
          ARRAY[p_status[i]], ARRAY[p_amount_cents[i]], ARRAY[p_currency[i]], ARRAY[p_items[i]],
          ARRAY[p_occurred_at[i]], ARRAY[p_received_at[i]], ARRAY[p_partition[i]], ARRAY[p_offset[i]]);
        EXIT;
      EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
        IF ferry_transient_sqlstate(state) THEN RAISE; END IF;
        IF attempt = 2 THEN
          failed_orders := failed_orders || p_order_id[i];
          failed_event_id := p_event_id[i]; error_code := state; error_message := msg;
          RETURN NEXT;
        END IF;
      END;
    END LOOP;
  END LOOP;
END $$;
