/**
 * Node entry of the dashboard (dashboard/app.ts): the operator's console (dashboard/console/),
 * bull-board over the dead-letter queue and the per-key retry queues, their gauges at /metrics (dashboard/metrics.ts), and the replayer that holds new dead letters for a person and
 * produces the ones they retry (lib/queues/replayer.ts). Stateless: run it on any host that
 * reaches the queue Redis and Kafka, as many as you like (BullMQ shares the letters out).
 */
import { serve } from '@hono/node-server';
import { serveStatic } from '@hono/node-server/serve-static';
import { Queue } from 'bullmq';
import { KafkaProducer } from '../lib/kafka/producer.ts';
import { orExit } from '../lib/config.ts';
import { createLogger } from '../lib/logger.ts';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { createDashboardApp } from './app.ts';
import { queueMetrics } from './metrics.ts';
import { loadDashboardConfig } from './config.ts';
import { capConnections, readHttpLimits, serverOptions } from '../lib/http-limits.ts';
import { DeadLetterReplayer } from '../lib/queues/replayer.ts';
import { DeadLetters, readDeadLetterBounds } from '../lib/queues/dead-letters.ts';
import { deadLetterQueueName, retryQueueName } from '../lib/queues/names.ts';
import { connectQueueRedis } from '../lib/queues/redis.ts';
import { WORKER_GROUPS } from '../lib/queues/names.ts';
import { buildConsole } from './console/build.ts';

const config = orExit(() => loadDashboardConfig());
const limits = orExit(() => readHttpLimits(process.env));
const logger = createLogger('ferry-dashboard', config.logLevel);
const connection = connectQueueRedis(config.queueRedisUrl);
// Queue-Redis trouble shows in the pages; it must not end the process.
connection.on('error', (err) => logger.warn({ err: err.message }, 'queue Redis error'));

const deadLetters = new DeadLetters(connection, deadLetterQueueName(config.topicPrefix), undefined, {
  bounds: orExit(() => readDeadLetterBounds(process.env)),
  logger,
});
const retries = WORKER_GROUPS.map((group) => ({ group, queue: new Queue(retryQueueName(config.topicPrefix, group), { connection }) }));
const metrics = queueMetrics(deadLetters, retries, connection);
// Connects on the first replay: the pages work while Kafka is down, and a replay made then fails
// and waits to be retried.
const producer = new KafkaProducer({ brokers: config.kafkaBrokers, security: config.kafkaSecurity });
const codec = new Codec(loadRegistry());
const replayer = new DeadLetterReplayer({
  connection,
  queueName: deadLetters.name,
  producer,
  codec,
  topicPrefix: config.topicPrefix,
  logger,
});
replayer.start();

const title = config.topicPrefix ? `Ferry ${config.topicPrefix}` : 'Ferry';
const consoleParts = buildConsole({ config, connection, deadLetters, retries, codec, title });

const app = createDashboardApp({
  deadLetters: deadLetters.queue,
  watched: retries.map((r) => r.queue),
  metrics: async () => ({ contentType: metrics.contentType, body: await metrics.metrics() }),
  serveStatic,
  basePath: config.basePath,
  ...(config.credentials ? { credentials: config.credentials } : {}),
  ...(config.readonlyPassword ? { readonlyPassword: config.readonlyPassword } : {}),
  console: consoleParts.app,
  title,
  allowedHosts: config.allowedHosts,
});
if (!config.credentials) logger.warn('the dashboard has no password (DASHBOARD_PASSWORD): it listens on loopback only');
const server = capConnections(
  serve(
    { fetch: app.fetch, port: config.port, hostname: config.host, serverOptions: serverOptions(limits) },
    (info) => logger.info({ host: config.host, port: info.port, path: config.basePath }, 'dashboard listening'),
  ),
  limits,
);

let closing = false;
async function shutdown(signal: string): Promise<void> {
  if (closing) return;
  closing = true;
  logger.info({ signal }, 'stopping');
  setTimeout(() => process.exit(1), 15_000).unref();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  for (
    const step of [
      () => consoleParts.close(),
      () => replayer.close(),
      () => producer.close(),
      () => Promise.all([deadLetters.queue, ...retries.map((r) => r.queue)].map((q) => q.close())),
    ]
  ) {
    await step().catch((err: Error) => logger.warn({ err: err.message }, 'error while stopping'));
  }
  connection.disconnect();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
