/**
 * Prepares every store Ferry writes to: PostgreSQL and ClickHouse migrations, and the Kafka
 * topics with their partition counts. Safe to run again and from several hosts at once.
 */
import { loadCommonConfig, orExit, readInt } from '../lib/config.ts';
import { migrateClickhouse, migratePostgres } from '../lib/migrate.ts';
import { ensureTopics, readReplication, topicNames } from '../lib/kafka/topics.ts';
import { loadRegistry } from '../schemas/registry.ts';

const config = orExit(() => loadCommonConfig());
const partitions = orExit(() => readInt(process.env, 'KAFKA_PARTITIONS', 6, 1, 10_000));
const replication = orExit(() => readReplication(process.env, config.kafkaBrokers));

const pg = await migratePostgres(config.databaseUrl);
const ch = await migrateClickhouse(config.clickhouseUrl);
const topics = await ensureTopics({
  brokers: config.kafkaBrokers,
  security: config.kafkaSecurity,
  topics: topicNames(config.topicPrefix, loadRegistry().topics.keys()),
  partitions,
  ...replication,
});
console.log(
  `ferry: migrations applied: postgres [${pg.join(', ') || 'none'}], clickhouse [${ch.join(', ') || 'none'}]; topics created: [${topics.join(', ') || 'none'}]`,
);
