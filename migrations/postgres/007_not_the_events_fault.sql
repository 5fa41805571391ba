-- Failures that are not an event's fault abort the whole call, so the worker holds the batch
-- instead of pinning them on events (and, after the retries, dead-lettering every event): those
-- that pass with time (connection, resources, shutdown, conflicts) and a deployment gone wrong
-- that an operator puts right: credentials (28), a missing database (3D000), a privilege
-- (42501, e.g. the TEMPORARY that migration 006's search counter needs), a missing table or
-- function (42P01, 42883). Kept in step with workers/errors.ts transientSqlState.
CREATE OR REPLACE FUNCTION ferry_transient_sqlstate(state text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT left(state, 2) IN ('08', '28', '53', '57', '58')
      OR state IN ('40001', '40P01', '55P03', '3D000', '42501', '42P01', '42883')
$$;
