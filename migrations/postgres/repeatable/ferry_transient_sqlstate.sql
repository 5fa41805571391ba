-- Failures that are not an event's fault abort the whole call, so the worker holds the batch
-- instead of pinning them on events (and, after the retries, dead-lettering every event).
-- The codes are lib/sqlstates.ts's, filled in by the runner (lib/migrate.ts placeholders), so
-- the worker and this function cannot disagree.
CREATE OR REPLACE FUNCTION ferry_transient_sqlstate(state text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT left(state, 2) IN (${transient_sqlstate_classes})
      OR state IN (${transient_sqlstates})
$$;
