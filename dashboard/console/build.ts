/** Puts the console together from the dashboard's configuration and connections (dashboard/main.ts). */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Redis as RedisClient } from 'ioredis';
import postgres from 'postgres';
import type { Hono } from 'hono';
import { createClickhouse } from '../../lib/clickhouse.ts';
import { topicNames } from '../../lib/kafka/topics.ts';
import type { DeadLetters } from '../../lib/queues/dead-letters.ts';
import type { WorkerGroup } from '../../lib/queues/names.ts';
import type { Codec } from '../../schemas/codec.ts';
import type { DashboardConfig } from '../config.ts';
import { auditKey, AuditLog } from './audit-log.ts';
import { Confirmations } from './confirmations.ts';
import { findEvent } from './event-search.ts';
import { KafkaLag } from './kafka-lag.ts';
import { LetterActions } from './letter-actions.ts';
import { LetterQuery } from './letter-query.ts';
import { letterView, type StoredLetter } from './letter-view.ts';
import { retriesInProgress } from './parked-retries.ts';
import { PipelineFeed } from './pipeline-feed.ts';
import { PipelineProbe, PROBE_TIMEOUT_MS } from './pipeline-probe.ts';
import { consoleRoutes } from './routes.ts';

export interface ConsoleParts {
  app: Hono;
  close: () => Promise<void>;
}

async function text(url: string, token?: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS), ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.text();
}

export function buildConsole(o: {
  config: DashboardConfig;
  connection: Redis;
  deadLetters: DeadLetters;
  retries: { group: WorkerGroup; queue: Queue }[];
  codec: Codec;
  title: string;
}): ConsoleParts {
  const { config, connection, codec } = o;
  const fields = new Set(config.redactFields);
  const letters = new LetterQuery(o.deadLetters.queue, connection, codec, config.topicPrefix);
  const audit = new AuditLog(connection, auditKey(config.topicPrefix));
  const actions = new LetterActions(o.deadLetters.queue, letters, new Confirmations(connection, `${config.topicPrefix}ferry-console:confirm:`), audit);
  const view = (l: StoredLetter) => letterView(codec, fields, l);
  const retries = () => retriesInProgress(connection, o.retries, codec, fields);

  // The stores are asked directly, on connections of their own that fail fast.
  const sql = postgres(config.databaseUrl, { max: 2, connect_timeout: 2, idle_timeout: 30, onnotice: () => {} });
  const cache = new RedisClient(config.redisUrl, {
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 2000,
    lazyConnect: false,
    retryStrategy: () => 500,
  });
  cache.on('error', () => {});
  const clickhouse = createClickhouse(config.clickhouseUrl);
  const lag = new KafkaLag(config.kafkaBrokers, config.kafkaSecurity, topicNames(config.topicPrefix, codec.registry.topics.keys()), config.groupIds);
  const probe = new PipelineProbe({
    gatewayMetrics: () => text(config.gatewayMetricsUrl, config.metricsToken),
    workerMetrics: config.workerMetricsUrls.map((u) => () => text(u)),
    pings: {
      postgres: async () => void (await sql`SELECT 1`),
      redis: async () => void (await cache.ping()),
      clickhouse: async () => {
        const r = await clickhouse.ping();
        if (!r.success) throw r.error;
      },
      'queue-redis': async () => void (await connection.ping()),
    },
    lag: () => lag.read(),
    deadLetters: () => o.deadLetters.count(),
    retries: async () => (await Promise.all(o.retries.map((r) => r.queue.getJobCountByTypes('delayed', 'waiting', 'active')))).reduce((a, b) => a + b, 0),
  });
  const feed = new PipelineFeed(probe);
  const app = consoleRoutes({
    basePath: config.basePath,
    title: o.title,
    letters,
    actions,
    audit,
    view,
    retries,
    feed,
    search: (q) => findEvent({ sql, redis: cache, redisPrefix: config.redisPrefix, clickhouse, letters, view, retries }, q),
  });
  return {
    app,
    close: async () => {
      feed.close();
      await Promise.allSettled([sql.end({ timeout: 2 }), clickhouse.close(), lag.close()]);
      cache.disconnect();
    },
  };
}
