/**
 * For ratio c: the gateway app (createApp) with the product's KafkaProducer, answering either
 * after Kafka's acknowledgement (MODE=ack, what the product does) or right after librdkafka
 * took the record (MODE=enqueue, EnqueueOnlyProducer). Everything else is the same in both
 * modes; there is no read model, idempotency store, metrics or auth (neither mode has them).
 * Configuration from the gateway's environment variables (loadGatewayConfig), plus MODE.
 * GET /bench/stats reports records answered as accepted whose delivery later failed.
 */
import { serve } from '@hono/node-server';
import { orExit } from '../../lib/config.ts';
import { createApp } from '../../gateway/app.ts';
import { readNodeBody } from '../../gateway/node/body.ts';
import { loadGatewayConfig } from '../../gateway/gateway-config.ts';
import { KafkaProducer } from '../../lib/kafka/producer.ts';
import { Codec } from '../../schemas/codec.ts';
import { loadRegistry } from '../../schemas/registry.ts';
import { EnqueueOnlyProducer } from './enqueue-producer.ts';

const config = orExit(() => loadGatewayConfig());
const mode = process.env.MODE ?? 'ack';
if (mode !== 'ack' && mode !== 'enqueue') {
  process.stderr.write('producer-modes-server: MODE must be ack or enqueue\n');
  process.exit(2);
}

const kafka = new KafkaProducer({
  brokers: config.kafkaBrokers,
  lingerMs: config.lingerMs,
  compression: config.compression,
  queueMaxMessages: config.queueMaxMessages,
  maxInFlight: config.maxInFlight,
  deliveryTimeoutMs: 30_000,
});
await kafka.connect();
const enqueueOnly = mode === 'enqueue' ? new EnqueueOnlyProducer(kafka) : undefined;
const registry = loadRegistry();
const app = createApp({
  producer: enqueueOnly ?? kafka,
  registry,
  codec: new Codec(registry),
  topicName: (t) => config.topicPrefix + t,
  maxBodyBytes: config.maxBodyBytes,
  readBody: readNodeBody,
  maxBatchEvents: config.maxBatchEvents,
});
app.get('/bench/stats', (c) => c.json({ mode, lateFailures: enqueueOnly?.lateFailures ?? 0 }));

const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host });
const stop = () => server.close(() => void kafka.close().then(() => process.exit(0)));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
