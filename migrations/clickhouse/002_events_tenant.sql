-- Events belong to the tenant of the credential that sent them (the record's `ferry-tenant`
-- header). Event ids are unique per tenant only (a client may choose its own), so the tenant
-- joins the key ReplacingMergeTree folds copies by: otherwise one tenant's event would replace
-- another's of the same id. ClickHouse 18.16 can only append a column added in the same ALTER
-- to the sorting key, and only one without a default: rows from before this have tenant ''.
-- Not idempotent (18.16 has no ADD COLUMN IF NOT EXISTS): should a run stop between this and
-- recording the version, record 002_events_tenant in ferry_migrations by hand.
ALTER TABLE events ADD COLUMN tenant String AFTER topic, MODIFY ORDER BY (topic, event_id, tenant);
