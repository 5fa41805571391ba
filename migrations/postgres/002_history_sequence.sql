-- The order in which the worker applied events, so tests and audits can check that each
-- order's events were applied in Kafka offset order.
ALTER TABLE order_history ADD COLUMN applied_seq bigserial;
CREATE INDEX order_history_seq_idx ON order_history (order_id, applied_seq);
