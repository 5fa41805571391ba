-- Event ids are unique per tenant, not across tenants: a client may choose its own, so with
-- order_history keyed by event id alone one tenant's event would silently suppress another's of
-- the same id. ferry_apply_orders_set (repeatable, re-applied in the same transaction)
-- conflicts on (tenant, event_id).
CREATE UNIQUE INDEX order_history_tenant_event_id_key ON order_history (tenant, event_id);
ALTER TABLE order_history DROP CONSTRAINT order_history_pkey,
  ADD CONSTRAINT order_history_pkey PRIMARY KEY USING INDEX order_history_tenant_event_id_key;
