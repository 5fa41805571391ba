/**
 * Deno / edge entry: the same gateway app, forwarding encoded records to the producer
 * service (librdkafka does not load in Deno). Start with `deno task edge`.
 * EDGE_PORT (default 8081), PRODUCER_URL (default http://127.0.0.1:8090), PRODUCER_TOKEN, and
 * the Node gateway's variables (gateway-config.ts: authentication, CORS, limits, NODE_ENV rules;
 * KAFKA_DELIVERY_TIMEOUT_MS bounds the wait for the producer service).
 *
 * With REDIS_URL set, the edge gateway has what the Node gateway has on top of Kafka: rate
 * limits, Idempotency-Key, `Prefer: wait`, and GET /v1/orders from the Redis cache and
 * PostgreSQL (DATABASE_URL). Without it, it needs nothing but outgoing fetch, as on an edge
 * platform with no TCP sockets: those features are off (see docs/api.md).
 */
import { orExit, readInt } from '../lib/config.ts';
import { jsonLogSink } from '../lib/log-sink.ts';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { createApp, type GatewayOptions } from './app.ts';
import { createAuthenticator } from './auth.ts';
import { loadGatewayConfig, requireAuthentication } from './gateway-config.ts';
import { HttpProducer } from './http-producer.ts';

declare const Deno: {
  env: { toObject(): Record<string, string> };
  serve(
    options: { port: number; hostname: string; onListen?: (a: { port: number }) => void },
    handler: (req: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> };
  addSignalListener(signal: string, fn: () => void): void;
  exit(code: number): never;
};

const env = Deno.env.toObject();
const { config, port } = orExit(() => {
  const c = loadGatewayConfig(env);
  requireAuthentication(c);
  return { config: c, port: readInt(env, 'EDGE_PORT', 8081, 1, 65535) };
});
// pino would need --allow-sys (it reads the hostname): the edge logs JSON lines of the same shape.
const logger = jsonLogSink('ferry-edge');
if (config.apiKeys.length === 0 && !config.jwt) logger.warn({}, 'AUTHENTICATION IS OFF: neither FERRY_API_KEYS nor FERRY_JWT_SECRET is set. Development only.');

const registry = loadRegistry();
const options: GatewayOptions = {
  // Bounded as the Node gateway's answers are: the producer service fails records at the
  // delivery timeout, and a forward it never answers is given up a second later.
  producer: new HttpProducer({
    url: env.PRODUCER_URL ?? 'http://127.0.0.1:8090',
    token: env.PRODUCER_TOKEN ?? 'ferry-dev-producer-token',
    timeoutMs: config.deliveryTimeoutMs + 1000,
  }),
  sendTimeoutMs: config.deliveryTimeoutMs + 2000,
  registry,
  codec: new Codec(registry),
  topicName: (t) => config.topicPrefix + t,
  maxBodyBytes: config.maxBodyBytes,
  maxBatchEvents: config.maxBatchEvents,
  authenticator: createAuthenticator({ apiKeys: config.apiKeys, jwt: config.jwt }),
  corsOrigins: config.corsOrigins,
  // Tracing is API-only here: traceparent is continued and forwarded, no spans are exported.
  logger,
  // Deno.serve passes the connection's info as the app's env.
  clientAddress: (c) => (c.env as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr?.hostname,
};
const closers: (() => Promise<unknown> | void)[] = [];
if (env.REDIS_URL) {
  // Loaded only when asked for: a fetch-only edge never imports a TCP client.
  const { withRedisStores } = await import('./stores/redis-stores.ts');
  const stores = await withRedisStores(config, logger);
  Object.assign(options, stores.options);
  closers.push(stores.close);
} else {
  logger.info({}, 'REDIS_URL is not set: no rate limits, Idempotency-Key, Prefer: wait or order reads on this edge gateway');
}

const app = createApp(options);
const server = Deno.serve({
  port,
  hostname: config.host,
  onListen: ({ port }) => console.log(JSON.stringify({ msg: 'edge gateway listening', port, redis: Boolean(env.REDIS_URL) })),
}, app.fetch);
const stop = () =>
  void server
    .shutdown()
    .then(() => Promise.all(closers.map((c) => c())))
    .catch((err: Error) => logger.warn({ err: err.message }, 'stopping: closing the Redis and PostgreSQL connections failed'))
    .finally(() => Deno.exit(0));
Deno.addSignalListener('SIGTERM', stop);
Deno.addSignalListener('SIGINT', stop);
