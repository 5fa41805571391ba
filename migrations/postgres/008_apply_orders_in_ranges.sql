-- An option to apply a batch in ranges of rows from the start, each a set statement in its own
-- subtransaction, instead of the whole batch as one statement first: the PostgreSQL setting
-- ferry.apply_chunk (rows per range; unset or 0: the whole batch first, as migration 006 did).
-- Set it for Ferry's role or database, e.g. ALTER ROLE ferry SET ferry.apply_chunk = 64.
--
-- Why it is there, and why it is off: a statement that fails at its p-th row has inserted p - 1
-- history rows, which are rolled back and written again. With the whole batch as the first
-- range about the rows between failures are written twice; with 64-row ranges a failure re-does
-- at most 63. Measured in the benchmark's drain (three alternated pairs, 1 % of writes failing
-- once): PostgreSQL's CPU per event with failures 16.7-22.3 us as one statement, 13.4-14.0 us in
-- 64-row ranges; without failures 5.1-8.3 us against 10.3-12.8 us. A statement per 64 rows and
-- its subtransaction cost more than the rows it saves unless about 1 % of writes fail, so the
-- default stays one statement; a deployment whose writes often fail (a trigger, a constraint
-- that catches bad data) can turn it on. At most 16 ranges per 1 000-event call stay under
-- PostgreSQL's 64 cached subtransaction ids, so other sessions' snapshots do not overflow.
-- Everything else, the search after a failure included, is migration 006's.

CREATE OR REPLACE FUNCTION ferry_apply_orders(
  p_tenant text[], p_event_id uuid[], p_order_id text[], p_customer_id text[], p_status text[], p_amount_cents bigint[],
  p_currency text[], p_items text[], p_occurred_at timestamptz[], p_received_at timestamptz[],
  p_partition int[], p_offset bigint[]
) RETURNS TABLE (failed_event_id uuid, error_code text, error_message text) LANGUAGE plpgsql AS $$
DECLARE
  n int := coalesce(array_length(p_event_id, 1), 0);
  los int[];
  his int[];
  lo int;
  hi int;
  mid int;
  k int;
  j int;
  attempt int;
  mark bigint;
  reached bigint;  -- rows of the failed range its statement reached, the failing row included
  stop int;        -- index of the row that stopped it, when known
  chunk int := coalesce(nullif(current_setting('ferry.apply_chunk', true), '')::int, 0);
  failed_orders text[] := '{}';  -- ferry_order_ref of each failed order
  failed_at int[] := '{}';
  state text;
  msg text;
BEGIN
  IF n = 0 THEN RETURN; END IF;
  -- Session-local, so other sessions' rows never move the count; created once per session.
  IF to_regclass('pg_temp.ferry_apply_progress') IS NULL THEN
    CREATE TEMP SEQUENCE ferry_apply_progress;
  END IF;
  -- Ranges of at most `chunk` rows from the start, pushed last first so the first comes off first.
  IF chunk <= 0 OR chunk >= n THEN
    los := ARRAY[1]; his := ARRAY[n];
  ELSE
    los := '{}'; his := '{}';
    lo := ((n - 1) / chunk) * chunk + 1;
    WHILE lo >= 1 LOOP
      los := los || lo; his := his || least(lo + chunk - 1, n);
      lo := lo - chunk;
    END LOOP;
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
      mark := nextval('pg_temp.ferry_apply_progress');
      BEGIN
        PERFORM ferry_apply_orders_set(p_tenant[lo:hi], p_event_id[lo:hi], p_order_id[lo:hi], p_customer_id[lo:hi], p_status[lo:hi],
          p_amount_cents[lo:hi], p_currency[lo:hi], p_items[lo:hi], p_occurred_at[lo:hi], p_received_at[lo:hi],
          p_partition[lo:hi], p_offset[lo:hi], failed_orders);
      EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
        IF ferry_transient_sqlstate(state) THEN RAISE; END IF;
        reached := currval('pg_temp.ferry_apply_progress') - mark;
        -- The reached-th row of the range that the statement did not leave out.
        stop := NULL;
        IF coalesce(array_length(failed_orders, 1), 0) = 0 THEN
          IF reached >= 1 AND reached <= hi - lo + 1 THEN stop := lo + reached::int - 1; END IF;
        ELSIF reached >= 1 THEN
          FOR j IN lo .. hi LOOP
            CONTINUE WHEN ferry_order_ref(p_tenant[j], p_order_id[j]) = ANY (failed_orders);
            reached := reached - 1;
            IF reached = 0 THEN stop := j; EXIT; END IF;
          END LOOP;
        END IF;
        -- Stopped at the last row: as likely the orders upsert after every history row, so halve.
        IF stop IS NOT NULL AND stop < hi THEN
          IF stop > lo THEN
            -- The rows before it, then the rest from it as one set: a row that failed once and
            -- passes now costs no statement of its own.
            los := los || ARRAY[stop, lo]; his := his || ARRAY[hi, stop - 1];
          ELSE
            -- It stopped the range it starts: alone (it decides whether it failed), then the rest.
            los := los || ARRAY[stop + 1, stop]; his := his || ARRAY[hi, stop];
          END IF;
        ELSE
          mid := (lo + hi) / 2;
          los := los || ARRAY[mid + 1, lo]; his := his || ARRAY[hi, mid];
        END IF;
      END;
    END IF;
  END LOOP;
  -- The later events of a failed order were left out: they wait behind it.
  IF coalesce(array_length(failed_orders, 1), 0) > 0 THEN
    FOR k IN 1 .. n LOOP
      j := array_position(failed_orders, ferry_order_ref(p_tenant[k], p_order_id[k]));
      IF j IS NOT NULL AND k > failed_at[j] THEN
        failed_event_id := p_event_id[k]; error_code := 'blocked'; error_message := 'an earlier event of this order failed';
        RETURN NEXT;
      END IF;
    END LOOP;
  END IF;
END $$;
