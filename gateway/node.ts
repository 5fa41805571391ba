/**
 * Node entry: the gateway app with an in-process librdkafka producer. The primary process
 * forks GATEWAY_PROCESSES children that share the port, so every core serves requests.
 * On SIGTERM each stops accepting, flushes what is in flight to Kafka, then exits.
 *
 * Node-specific pieces are made here and injected into the runtime-agnostic app: the Redis
 * idempotency store, rate limiter and applied-events subscriber, prom-client metrics, and
 * HTTPS when TLS_CERT_FILE and TLS_KEY_FILE are set.
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { serve } from '@hono/node-server';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { orExit } from '../lib/config.ts';
import { createLogger, type Logger } from '../lib/logger.ts';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { createApp } from './app.ts';
import { readNodeBody } from './node-body.ts';
import { AppliedEvents } from './applied-events.ts';
import { createAuthenticator } from './auth.ts';
import { loadGatewayConfig, requireAuthentication } from './gateway-config.ts';
import { KafkaProducer } from './kafka-producer.ts';
import { GatewayMetrics, serveClusterMetrics } from './node-metrics.ts';
import { OrderReadModel } from './order-read-model.ts';
import { RedisAppliedSubscriber } from './redis-applied-subscriber.ts';
import { RedisIdempotencyStore } from './redis-idempotency-store.ts';
import { RedisRateLimiter } from './redis-rate-limiter.ts';

const config = orExit(() => {
  const c = loadGatewayConfig();
  requireAuthentication(c);
  return c;
});
const logger = createLogger('ferry-gateway', config.logLevel);
const DELIVERY_TIMEOUT_MS = 30_000;

if (!cluster.isWorker) {
  if (config.apiKeys.length === 0 && !config.jwt) {
    logger.warn(
      'AUTHENTICATION IS OFF: neither FERRY_API_KEYS nor FERRY_JWT_SECRET is set, so every caller may write every topic and read every order. ' +
        'Development only: with NODE_ENV=production the gateway refuses to start like this.',
    );
  }
  if (config.rateLimitPerSecond === 0) logger.info('rate limits are off (RATE_LIMIT_PER_SECOND=0)');
}

if (cluster.isPrimary && config.processes > 1) {
  let stopping = false;
  serveClusterMetrics();
  for (let i = 0; i < config.processes; i++) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, 'gateway process exited; starting another');
    setTimeout(() => cluster.fork(), 1000);
  });
  const stop = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    setTimeout(() => process.exit(1), 30_000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  logger.info({ port: config.port, processes: config.processes, tls: Boolean(config.tls) }, 'gateway starting');
} else {
  await runServer();
}

async function runServer(): Promise<void> {
  const registry = loadRegistry();
  const kafka = new KafkaProducer({
    brokers: config.kafkaBrokers,
    lingerMs: config.lingerMs,
    compression: config.compression,
    queueMaxMessages: config.queueMaxMessages,
    maxInFlight: config.maxInFlight,
    deliveryTimeoutMs: DELIVERY_TIMEOUT_MS,
  });
  await kafka.connect();
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2 });
  const idempotencyRedis = config.idempotencyRedisUrl === config.redisUrl ? redis : new Redis(config.idempotencyRedisUrl, { maxRetriesPerRequest: 2 });
  void warnIfEvicting(idempotencyRedis, logger);
  const sql = postgres(config.databaseUrl, { max: 4, onnotice: () => {} });

  const applied = new AppliedEvents();
  const subscriber = new RedisAppliedSubscriber(config.redisUrl, config.redisPrefix, applied, logger);
  // Waiting requests need the subscription; without it they still get their 202, so start-up
  // does not hang on it.
  await Promise.race([
    subscriber.start().catch((err: Error) => logger.warn({ err: err.message }, 'applied-events subscription failed; Prefer: wait will time out')),
    new Promise((resolve) => setTimeout(resolve, 5000).unref()),
  ]);

  const metrics = new GatewayMetrics({ inFlight: () => kafka.inFlight, maxInFlight: kafka.maxInFlight, waiting: () => applied.watching, token: config.metricsToken });
  const app = createApp({
    producer: metrics.instrument(kafka),
    registry,
    codec: new Codec(registry),
    readModel: new OrderReadModel(redis, sql, config.redisPrefix),
    topicName: (t) => config.topicPrefix + t,
    maxBodyBytes: config.maxBodyBytes,
    readBody: readNodeBody,
    maxBatchEvents: config.maxBatchEvents,
    authenticator: createAuthenticator({ apiKeys: config.apiKeys, jwt: config.jwt }),
    rateLimiter: config.rateLimitPerSecond > 0
      ? new RedisRateLimiter(redis, { perSecond: config.rateLimitPerSecond, burst: config.rateLimitBurst, prefix: config.redisPrefix, logger })
      : undefined,
    idempotency: new RedisIdempotencyStore(idempotencyRedis, config.redisPrefix),
    idempotencyTtlMs: config.idempotencyTtlSeconds * 1000,
    // Longer than any request can take: Kafka's delivery timeout plus the longest wait.
    idempotencyLeaseMs: DELIVERY_TIMEOUT_MS + config.maxWaitSeconds * 1000 + 30_000,
    applied,
    maxWaitSeconds: config.maxWaitSeconds,
    corsOrigins: config.corsOrigins,
    observe: { middleware: metrics.middleware(), metrics: metrics.handler() },
  });

  const listening = (info: { port: number }) => logger.info({ port: info.port, pid: process.pid, tls: Boolean(config.tls) }, 'gateway listening');
  const server = config.tls
    ? serve(
        {
          fetch: app.fetch,
          port: config.port,
          hostname: config.host,
          createServer: createHttpsServer,
          serverOptions: { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) },
        },
        listening,
      )
    : serve({ fetch: app.fetch, port: config.port, hostname: config.host }, listening);

  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    setTimeout(() => process.exit(1), 25_000).unref();
    // Stop accepting; requests already in flight still get their Kafka acknowledgement.
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await kafka.close();
    await subscriber.close();
    redis.disconnect();
    if (idempotencyRedis !== redis) idempotencyRedis.disconnect();
    await sql.end({ timeout: 5 });
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
}

/**
 * Idempotency answers must live their TTL: on a Redis that evicts under memory pressure a stored
 * answer can vanish early, and a retry would then produce again (with the same event ids, which
 * the sinks fold, but page views would count twice). Said once at start; CONFIG may be disabled.
 */
async function warnIfEvicting(redis: Redis, log: Logger): Promise<void> {
  try {
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
    if (policy !== 'noeviction') {
      log.warn({ policy }, 'the Redis of IDEMPOTENCY_REDIS_URL may evict keys: a stored Idempotency-Key answer can vanish before IDEMPOTENCY_TTL_SECONDS; point it at a Redis with maxmemory-policy noeviction');
    }
  } catch (err) {
    log.debug({ err: (err as Error).message }, 'could not read maxmemory-policy of the idempotency Redis');
  }
}
