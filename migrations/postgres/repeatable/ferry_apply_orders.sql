-- A batch (arrays in offset order per partition), applied in one call that, when one of its
-- events fails, also finds it (see workers/sinks/postgres-sink.ts). Ranges are tried as sets
-- (ferry_apply_orders_set), each in its own subtransaction, the whole batch first. When a range
-- fails for a reason of its own, the row that stopped it is tried alone and the rows before it
-- as a set, the rest after it in ranges (halving when that row is not known); single rows are
-- tried twice (a failure that passes at once, a trigger's lock or a race, costs nothing more).
-- Returns the events not applied, by tenant and event id (ids are unique per tenant only): each
-- that failed (with its SQLSTATE and message) and the later events of its order, which wait
-- behind it ('blocked'). Empty: the whole batch was applied.
-- Failures that are not an event's fault (ferry_transient_sqlstate) abort the whole call.
--
-- Order (read slowly): ranges come off a stack earliest first, so rows are settled in offset
-- order; a range is tried only after every earlier row was applied or failed, and leaves out
-- the orders that failed before it.
--
-- Finding the failed row: a set statement that fails on one of its rows has already inserted the
-- history rows before it, in array order. Those inserts are rolled back, but a sequence is not:
-- the set statement takes a value of a session-local sequence for every row it reaches, so the
-- search knows which row stopped it. An event that keeps failing then costs about one statement
-- prefix and three statements, where halving alone went down log2(batch) levels (with 1 % of
-- 500-event batches failing for good, 2.4x fewer statements, PostgreSQL CPU per event 74 -> 55
-- us). The sequence is a temporary one (pg_temp), made by the first call of each session and
-- checked on every call, so poolers that reset or swap sessions are fine; Ferry's role needs the
-- TEMPORARY privilege, which PostgreSQL grants by default. The count only steers the search; what
-- is applied is decided by the statements themselves. When it cannot point inside the range (a
-- failure in the orders upsert, or a planner that evaluated the count early), the range is halved.
--
-- Settings (for Ferry's role or database, e.g. ALTER ROLE ferry SET ferry.apply_chunk = 64):
-- - ferry.apply_chunk (rows per range from the start; unset or 0: the whole batch first). A
--   statement that fails at its p-th row rolls back p - 1 history rows, written again later;
--   64-row ranges re-do at most 63, but a statement and a subtransaction per 64 rows cost more
--   than they save unless about 1 % of writes fail (benchmark drain, 1 % failing once: 16.7-22.3
--   us per event as one statement, 13.4-14.0 us in ranges; without failures 5.1-8.3 against
--   10.3-12.8 us), so it is off; a deployment whose writes often fail can turn it on.
-- - ferry.apply_retry_chunk (default 64; 0: the rest as one set). Once a statement has failed at
--   row p, the rows after p go in ranges of this many rows, so each later failure throws away at
--   most a range; these ranges are only paid by a batch that already failed. They are at least
--   rest / 16 rows, so one failure does not commit more subtransactions than PostgreSQL caches
--   per transaction (64) and other sessions' snapshots do not overflow.
-- The result gained failed_tenant, which CREATE OR REPLACE refuses.
DROP FUNCTION IF EXISTS ferry_apply_orders(text[], uuid[], text[], text[], text[], bigint[], text[], text[], timestamptz[], timestamptz[], int[], bigint[]);
CREATE FUNCTION ferry_apply_orders(
  p_tenant text[], p_event_id uuid[], p_order_id text[], p_customer_id text[], p_status text[], p_amount_cents bigint[],
  p_currency text[], p_items text[], p_occurred_at timestamptz[], p_received_at timestamptz[],
  p_partition int[], p_offset bigint[]
) RETURNS TABLE (failed_tenant text, failed_event_id uuid, error_code text, error_message text) LANGUAGE plpgsql AS $$
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
  retry_chunk int := coalesce(nullif(current_setting('ferry.apply_retry_chunk', true), '')::int, 64);
  rest_lo int;     -- the rest of a failed range after the row that stopped it
  size int;
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
            failed_tenant := p_tenant[lo]; failed_event_id := p_event_id[lo]; error_code := state; error_message := msg;
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
          -- Pushed last first, so they come off in array order (per-order event order holds).
          -- When it stopped the range it starts, it goes alone (it decides whether it failed);
          -- otherwise the rows before it go as one set, then the rest from it: a row that failed
          -- once and passes now costs no statement of its own.
          rest_lo := CASE WHEN stop > lo THEN stop ELSE stop + 1 END;
          size := greatest(retry_chunk, (hi - rest_lo + 16) / 16);
          IF retry_chunk <= 0 OR hi - rest_lo + 1 <= size THEN
            los := los || rest_lo; his := his || hi;
          ELSE
            k := ((hi - rest_lo) / size) * size + rest_lo;
            WHILE k >= rest_lo LOOP
              los := los || k; his := his || least(k + size - 1, hi);
              k := k - size;
            END LOOP;
          END IF;
          IF stop > lo THEN
            los := los || lo; his := his || stop - 1;
          ELSE
            los := los || stop; his := his || stop;
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
        failed_tenant := p_tenant[k]; failed_event_id := p_event_id[k]; error_code := 'blocked'; error_message := 'an earlier event of this order failed';
        RETURN NEXT;
      END IF;
    END LOOP;
  END IF;
END $$;
