/**
 * Node entry: the gateway app with an in-process librdkafka producer. The primary process
 * forks GATEWAY_PROCESSES children that share the port, so every core serves requests.
 * On SIGTERM each stops accepting, flushes what is in flight to Kafka, then exits.
 *
 * Node-specific pieces are made here and injected into the runtime-agnostic app: the librdkafka
 * producer, prom-client metrics, and HTTPS when TLS_CERT_FILE and TLS_KEY_FILE are set; the
 * Redis and PostgreSQL parts come from stores/redis-stores.ts, shared with the Deno entry.
 */
import cluster from 'node:cluster';
import { supervise } from '../lib/supervisor.ts';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { orExit } from '../lib/config.ts';
import { describeKafkaSecurity } from '../lib/kafka/security.ts';
import { createLogger } from '../lib/logger.ts';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { createApp } from './app.ts';
import { readNodeBody } from './node/body.ts';
import { readNodeHeaders } from './node/headers.ts';
import { sha256HexSync } from './node/sha256.ts';
import { createAuthenticator } from './auth.ts';
import { loadGatewayConfig, requireAuthentication } from './gateway-config.ts';
import { KafkaProducer } from '../lib/kafka/producer.ts';
import { GatewayMetrics, serveClusterMetrics } from './node/metrics.ts';
import { withRedisStores } from './stores/redis-stores.ts';
import { capConnections, serverOptions } from '../lib/http-limits.ts';
import { startTracing } from '../lib/tracing-sdk.ts';

const config = orExit(() => {
  const c = loadGatewayConfig();
  requireAuthentication(c);
  return c;
});
const logger = createLogger('ferry-gateway', config.logLevel);

if (!cluster.isWorker) {
  if (config.apiKeys.length === 0 && !config.jwt) {
    logger.warn(
      'AUTHENTICATION IS OFF: neither FERRY_API_KEYS nor FERRY_JWT_SECRET is set, so every caller may write every topic and read every order. ' +
        'Development only: with NODE_ENV=production the gateway refuses to start like this.',
    );
  }
  if (config.rateLimitPerSecond === 0) logger.info('rate limits are off (RATE_LIMIT_PER_SECOND=0)');
  if (config.production && !config.metricsToken) logger.warn('/metrics is off: set METRICS_TOKEN to serve it in production');
}

if (cluster.isPrimary && config.processes > 1) {
  serveClusterMetrics();
  supervise({ processes: config.processes, logger, name: 'gateway process' });
  logger.info({ port: config.port, processes: config.processes, tls: Boolean(config.tls) }, 'gateway starting');
} else {
  await runServer();
}

async function runServer(): Promise<void> {
  const tracing = await startTracing('ferry-gateway', logger);
  const registry = loadRegistry();
  const kafka = new KafkaProducer({
    brokers: config.kafkaBrokers,
    security: config.kafkaSecurity,
    lingerMs: config.lingerMs,
    compression: config.compression,
    deliveryTimeoutMs: config.deliveryTimeoutMs,
    queueMaxMessages: config.queueMaxMessages,
    maxInFlight: config.maxInFlight,
    onClientLog: (severity, facility, message) => logger[severity <= 3 ? 'error' : 'warn']({ facility, kafka: message }, 'kafka client'),
  });
  try {
    await kafka.connect();
  } catch (err) {
    // One line with librdkafka's reason (a refused certificate or password says so), not a stack.
    logger.fatal(
      { err: (err as Error).message, brokers: config.kafkaBrokers, kafka: describeKafkaSecurity(config.kafkaSecurity) },
      'gateway cannot start: Kafka refused or did not answer',
    );
    process.exit(1);
  }
  const stores = await withRedisStores(config, logger);

  const metrics = new GatewayMetrics({
    inFlight: () => kafka.inFlight,
    maxInFlight: kafka.maxInFlight,
    waiting: () => stores.applied.watching,
    token: config.metricsToken,
  });
  const app = createApp({
    producer: metrics.instrument(kafka),
    registry,
    codec: new Codec(registry),
    topicName: (t) => config.topicPrefix + t,
    maxBodyBytes: config.maxBodyBytes,
    readBody: readNodeBody,
    readHeaders: readNodeHeaders,
    maxBatchEvents: config.maxBatchEvents,
    sendTimeoutMs: config.deliveryTimeoutMs + 2000,
    authenticator: createAuthenticator({ apiKeys: config.apiKeys, jwt: config.jwt, sha256: sha256HexSync }),
    ...stores.options,
    corsOrigins: config.corsOrigins,
    logger,
    clientAddress: (c) => getConnInfo(c).remote.address,
    // In production the host-wide scrape (IPC to every process) is served to the token holder only.
    observe: { middleware: metrics.middleware(), ...(config.production && !config.metricsToken ? {} : { metrics: metrics.handler() }) },
  });
  // The demo shop and the SDK bundle it runs; never in production (esbuild is a dev dependency,
  // so an install without it serves no demo rather than no gateway).
  if (!config.production) {
    try {
      await (await import('./node/demo.ts')).mountDemo(app);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'demo shop not served');
    }
  }

  const listening = (info: { port: number }) =>
    logger.info({ port: info.port, pid: process.pid, tls: Boolean(config.tls), kafka: describeKafkaSecurity(config.kafkaSecurity) }, 'gateway listening');
  const limits = serverOptions(config.http);
  const server = capConnections(
    config.tls
      ? serve(
        {
          fetch: app.fetch,
          port: config.port,
          hostname: config.host,
          createServer: createHttpsServer,
          serverOptions: { ...limits, cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) },
        },
        listening,
      )
      : serve({ fetch: app.fetch, port: config.port, hostname: config.host, serverOptions: limits }, listening),
    config.http,
  );

  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    setTimeout(() => process.exit(1), 25_000).unref();
    // Stop accepting; requests already in flight still get their Kafka acknowledgement.
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await kafka.close();
    await stores.close();
    await tracing?.shutdown();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
}
