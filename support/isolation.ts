/** A deployment of its own for one test or benchmark stack: topics, databases, key prefixes. */
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { createClickhouse } from '../lib/clickhouse.ts';
import { migrateClickhouse, migratePostgres } from '../lib/migrate.ts';
import { ensureTopics, readReplication, topicNames } from '../lib/kafka/topics.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { dropIsolation, newIsolationId } from './stale-isolations.ts';

/** What isolate() made: topics, database, ClickHouse database, key prefix. */
export interface Isolated {
  id: string;
  env: Record<string, string>;
  sql: postgres.Sql;
  redis: Redis;
  clickhouse: ReturnType<typeof createClickhouse>;
  topic: (logical: string) => string;
  cleanup: () => Promise<void>;
}

export async function isolate(extraEnv: Record<string, string> = {}): Promise<Isolated> {
  // Names this process, so a later run can drop what it leaves if it dies (stale-isolations.ts).
  const id = newIsolationId();
  const databaseUrl = `postgres://postgres@127.0.0.1:5432/ferry_${id}`;
  const clickhouseUrl = `http://127.0.0.1:8123/ferry_${id}`;
  const env: Record<string, string> = {
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    FERRY_TOPIC_PREFIX: `${id}.`,
    DATABASE_URL: databaseUrl,
    CLICKHOUSE_URL: clickhouseUrl,
    REDIS_URL: 'redis://127.0.0.1:6379/0',
    REDIS_PREFIX: `ferry:${id}:`,
    QUEUE_REDIS_URL: 'redis://127.0.0.1:6380',
    WORKER_METRICS_PORT: '0',
    LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  await migratePostgres(databaseUrl);
  await migrateClickhouse(clickhouseUrl);
  // Replication follows the brokers (KAFKA_REPLICATION_FACTOR in extraEnv overrides): RF 3 on the cluster.
  const brokers = env.KAFKA_BROKERS!.split(',');
  await ensureTopics({ brokers, topics: topicNames(env.FERRY_TOPIC_PREFIX!, loadRegistry().topics.keys()), partitions: 6, ...readReplication(env, brokers) });
  const sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
  const redis = new Redis(env.REDIS_URL!);
  const clickhouse = createClickhouse(clickhouseUrl);
  return {
    id,
    env,
    sql,
    redis,
    clickhouse,
    topic: (logical) => `${id}.${logical}`,
    cleanup: async () => {
      await sql.end();
      await clickhouse.close();
      redis.disconnect();
      // Topics too, or every test run leaves its partitions on the shared broker.
      await dropIsolation(id, topicNames(env.FERRY_TOPIC_PREFIX!, loadRegistry().topics.keys()), {
        brokers: env.KAFKA_BROKERS!.split(','),
        redisUrls: [env.REDIS_URL!, env.QUEUE_REDIS_URL!],
      });
    },
  };
}
