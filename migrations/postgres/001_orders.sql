-- The order read model: one row per order, moved forward only by newer events.
CREATE TABLE orders (
  order_id          text PRIMARY KEY,
  customer_id       text        NOT NULL,
  status            text        NOT NULL CHECK (status IN ('created', 'paid', 'shipped', 'cancelled')),
  amount_cents      bigint      NOT NULL CHECK (amount_cents >= 0),
  currency          char(3)     NOT NULL,
  items             jsonb       NOT NULL DEFAULT '[]',
  occurred_at       timestamptz NOT NULL,
  -- The event that produced this version. (occurred_at, source_offset) is the version:
  -- an upsert lands only when it is greater, so redelivery and replays change nothing.
  event_id          uuid        NOT NULL,
  source_partition  integer     NOT NULL,
  source_offset     bigint      NOT NULL,
  received_at       timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Every order event applied, once: the order's timeline, keyed by event id.
CREATE TABLE order_history (
  event_id          uuid PRIMARY KEY,
  order_id          text        NOT NULL,
  status            text        NOT NULL,
  amount_cents      bigint      NOT NULL,
  occurred_at       timestamptz NOT NULL,
  source_partition  integer     NOT NULL,
  source_offset     bigint      NOT NULL,
  received_at       timestamptz NOT NULL,
  applied_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX order_history_order_idx ON order_history (order_id, occurred_at);
