-- One row per accepted event of any topic.
-- ClickHouse 18.16 has no insert deduplication without ZooKeeper, so a redelivered event may be
-- inserted twice; ReplacingMergeTree ordered by (topic, event_id) folds copies together on merge,
-- and reads that must be exact use FINAL (or uniqExact(event_id)).
CREATE TABLE IF NOT EXISTS events (
  event_id        String,
  topic           String,
  key             String,
  occurred_at     DateTime,
  occurred_at_ms  UInt64,
  received_at_ms  UInt64,
  written_at_ms   UInt64,
  partition       UInt32,
  offset          UInt64,
  schema_id       UInt32,
  payload         String
) ENGINE = ReplacingMergeTree(written_at_ms)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (topic, event_id);
