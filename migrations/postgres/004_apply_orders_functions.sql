-- Applying order events lives in the database, so that one round trip both applies a batch and,
-- when one of its events fails, finds it (see workers/sinks/postgres-sink.ts).

-- One text naming an order of a tenant, unambiguous whatever the two contain.
CREATE FUNCTION ferry_order_ref(tenant text, order_id text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT length(tenant)::text || ':' || tenant || order_id
$$;

-- One set of events in one statement. Exactly once in effect: order_history is keyed by event
-- id and only events whose history row is new here may touch orders; orders moves only to a
-- greater (occurred_at, source_offset), so a late older event never moves a row back.
-- DISTINCT ON: one statement may not update the same row twice. Events of the orders in
-- p_skip (see ferry_order_ref) are left out (they wait behind a failed event).
CREATE FUNCTION ferry_apply_orders_set(
  p_tenant text[], p_event_id uuid[], p_order_id text[], p_customer_id text[], p_status text[], p_amount_cents bigint[],
  p_currency text[], p_items text[], p_occurred_at timestamptz[], p_received_at timestamptz[],
  p_partition int[], p_offset bigint[], p_skip text[]
) RETURNS void LANGUAGE plpgsql AS $$
-- plpgsql, not sql: its statement plans are cached for the session, which the event-by-event
-- path below calls hundreds of times in a row.
BEGIN
  WITH input AS (
    SELECT * FROM unnest(p_tenant, p_event_id, p_order_id, p_customer_id, p_status, p_amount_cents, p_currency, p_items,
                         p_occurred_at, p_received_at, p_partition, p_offset)
      AS t(tenant, event_id, order_id, customer_id, status, amount_cents, currency, items, occurred_at, received_at,
           source_partition, source_offset)
    WHERE NOT (ferry_order_ref(tenant, order_id) = ANY (p_skip))
  ),
  history AS (
    INSERT INTO order_history (tenant, event_id, order_id, status, amount_cents, occurred_at, source_partition, source_offset, received_at)
    SELECT tenant, event_id, order_id, status, amount_cents, occurred_at, source_partition, source_offset, received_at FROM input
    ORDER BY source_partition, source_offset
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id
  )
  INSERT INTO orders AS o (tenant, order_id, customer_id, status, amount_cents, currency, items, occurred_at, event_id,
                           source_partition, source_offset, received_at, updated_at)
  SELECT DISTINCT ON (tenant, order_id) tenant, order_id, customer_id, status, amount_cents, currency, items::jsonb, occurred_at, input.event_id,
         source_partition, source_offset, received_at, clock_timestamp()
  FROM input JOIN history USING (event_id)
  ORDER BY tenant, order_id, occurred_at DESC, source_offset DESC
  ON CONFLICT (tenant, order_id) DO UPDATE SET
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

-- A batch (arrays in offset order). The whole set first, in a subtransaction. If that fails for
-- a reason of its own, halves, each tried as a set in its own subtransaction, down to single
-- events (tried twice: a failure that passes at once, a trigger's lock or a race, costs nothing
-- more), so a few bad events among hundreds cost a few statements, not one per event. Returns
-- the events not applied: each that failed (with its SQLSTATE and message) and the later events
-- of its order, which wait behind it ('blocked'). Empty: the whole batch was applied.
--
-- Order (read slowly): ranges come off a stack left half first, so rows are settled in offset
-- order; a range is tried only after every earlier row was applied or failed, and leaves out
-- the orders that failed before it.
CREATE FUNCTION ferry_apply_orders(
  p_tenant text[], p_event_id uuid[], p_order_id text[], p_customer_id text[], p_status text[], p_amount_cents bigint[],
  p_currency text[], p_items text[], p_occurred_at timestamptz[], p_received_at timestamptz[],
  p_partition int[], p_offset bigint[]
) RETURNS TABLE (failed_event_id uuid, error_code text, error_message text) LANGUAGE plpgsql AS $$
DECLARE
  n int := coalesce(array_length(p_event_id, 1), 0);
  los int[] := '{}';
  his int[] := '{}';
  lo int;
  hi int;
  mid int;
  k int;
  j int;
  attempt int;
  failed_orders text[] := '{}';  -- ferry_order_ref of each failed order
  failed_at int[] := '{}';
  state text;
  msg text;
BEGIN
  BEGIN
    PERFORM ferry_apply_orders_set(p_tenant, p_event_id, p_order_id, p_customer_id, p_status, p_amount_cents, p_currency,
                                   p_items, p_occurred_at, p_received_at, p_partition, p_offset, '{}');
    RETURN;
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
    IF ferry_transient_sqlstate(state) THEN RAISE; END IF;
  END;
  IF n = 1 THEN
    los := ARRAY[1]; his := ARRAY[1];
  ELSE
    mid := (1 + n) / 2;
    los := ARRAY[mid + 1, 1]; his := ARRAY[n, mid];
  END IF;
  WHILE coalesce(array_length(los, 1), 0) > 0 LOOP
    k := array_length(los, 1);
    lo := los[k]; hi := his[k];
    los := los[1:k - 1]; his := his[1:k - 1];
    IF lo = hi THEN
      CONTINUE WHEN ferry_order_ref(p_tenant[lo], p_order_id[lo]) = ANY (failed_orders);
      FOR attempt IN 1 .. 2 LOOP
        BEGIN
          PERFORM ferry_apply_orders_set(p_tenant[lo:lo], p_event_id[lo:lo], p_order_id[lo:lo], p_customer_id[lo:lo], p_status[lo:lo],
            p_amount_cents[lo:lo], p_currency[lo:lo], p_items[lo:lo], p_occurred_at[lo:lo], p_received_at[lo:lo],
            p_partition[lo:lo], p_offset[lo:lo], '{}');
          EXIT;
        EXCEPTION WHEN OTHERS THEN
          GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
          IF ferry_transient_sqlstate(state) THEN RAISE; END IF;
          IF attempt = 2 THEN
            failed_orders := failed_orders || (ferry_order_ref(p_tenant[lo], p_order_id[lo]));
            failed_at := failed_at || lo;
            failed_event_id := p_event_id[lo]; error_code := state; error_message := msg;
            RETURN NEXT;
          END IF;
        END;
      END LOOP;
    ELSE
      BEGIN
        PERFORM ferry_apply_orders_set(p_tenant[lo:hi], p_event_id[lo:hi], p_order_id[lo:hi], p_customer_id[lo:hi], p_status[lo:hi],
          p_amount_cents[lo:hi], p_currency[lo:hi], p_items[lo:hi], p_occurred_at[lo:hi], p_received_at[lo:hi],
          p_partition[lo:hi], p_offset[lo:hi], failed_orders);
      EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
        IF ferry_transient_sqlstate(state) THEN RAISE; END IF;
        mid := (lo + hi) / 2;
        los := los || ARRAY[mid + 1, lo]; his := his || ARRAY[hi, mid];
      END;
    END IF;
  END LOOP;
  -- The later events of a failed order were left out: they wait behind it.
  FOR k IN 1 .. n LOOP
    j := array_position(failed_orders, ferry_order_ref(p_tenant[k], p_order_id[k]));
    IF j IS NOT NULL AND k > failed_at[j] THEN
      failed_event_id := p_event_id[k]; error_code := 'blocked'; error_message := 'an earlier event of this order failed';
      RETURN NEXT;
    END IF;
  END LOOP;
END $$;
