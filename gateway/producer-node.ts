/**
 * Node entry of the producer service (see producer-service.ts), used by edge gateways.
 * PRODUCER_PORT (default 8090) and PRODUCER_TOKEN (required outside development).
 */
import { serve } from '@hono/node-server';
import { orExit, readInt, readString, ConfigError } from '../lib/config.ts';
import { createLogger } from '../lib/logger.ts';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { loadGatewayConfig } from './gateway-config.ts';
import { KafkaProducer } from './kafka-producer.ts';
import { createProducerServiceApp } from './producer-service.ts';

const config = orExit(() => loadGatewayConfig());
const port = orExit(() => readInt(process.env, 'PRODUCER_PORT', 8090, 1, 65535));
const token = orExit(() => {
  const t = readString(process.env, 'PRODUCER_TOKEN', process.env.NODE_ENV === 'production' ? '' : 'ferry-dev-producer-token');
  if (t.length < 16) throw new ConfigError('PRODUCER_TOKEN', 'must be set to a secret of at least 16 characters');
  return t;
});
const logger = createLogger('ferry-producer', config.logLevel);
if (!process.env.PRODUCER_TOKEN) logger.warn('PRODUCER_TOKEN is not set: using the development token; never do this in production');

const registry = loadRegistry();
const producer = new KafkaProducer({ brokers: config.kafkaBrokers, security: config.kafkaSecurity, lingerMs: config.lingerMs, compression: config.compression });
await producer.connect();
const app = createProducerServiceApp({ producer, registry, codec: new Codec(registry), token, topicPrefix: config.topicPrefix });
const server = serve({ fetch: app.fetch, port, hostname: config.host }, (info) => logger.info({ port: info.port }, 'producer service listening'));

let closing = false;
const shutdown = async () => {
  if (closing) return;
  closing = true;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await producer.close();
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
