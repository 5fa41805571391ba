/**
 * Node entry of the producer service (see producer/service.ts), used by edge gateways.
 * Settings in config.ts: PRODUCER_HOST (loopback by default), PRODUCER_PORT, PRODUCER_TOKEN(_FILE),
 * TLS_CERT_FILE and TLS_KEY_FILE (HTTPS; required off loopback).
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { serve } from '@hono/node-server';
import { orExit } from '../lib/config.ts';
import { createLogger } from '../lib/logger.ts';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { loadProducerServiceConfig } from './config.ts';
import { KafkaProducer } from '../lib/kafka/producer.ts';
import { createProducerServiceApp } from './service.ts';
import { capConnections, readHttpLimits, serverOptions } from '../lib/http-limits.ts';

const config = orExit(() => loadProducerServiceConfig());
const limits = orExit(() => readHttpLimits(process.env));
const { port, token } = config;
const logger = createLogger('ferry-producer', config.logLevel);
if (config.devToken) logger.warn('PRODUCER_TOKEN is not set: using the development token, accepted on loopback only');

const registry = loadRegistry();
const producer = new KafkaProducer({
  brokers: config.kafkaBrokers,
  security: config.kafkaSecurity,
  lingerMs: config.lingerMs,
  compression: config.compression,
  deliveryTimeoutMs: config.deliveryTimeoutMs,
});
await producer.connect();
const app = createProducerServiceApp({ producer, registry, codec: new Codec(registry), token, topicPrefix: config.topicPrefix });
const listening = (info: { port: number }) => logger.info({ port: info.port, tls: Boolean(config.tls) }, 'producer service listening');
const server = capConnections(
  config.tls
    ? serve(
      {
        fetch: app.fetch,
        port,
        hostname: config.host,
        createServer: createHttpsServer,
        serverOptions: { ...serverOptions(limits), cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) },
      },
      listening,
    )
    : serve({ fetch: app.fetch, port, hostname: config.host, serverOptions: serverOptions(limits) }, listening),
  limits,
);

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
