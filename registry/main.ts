/**
 * Node entry of the schema registry (registry/app.ts): Confluent's Schema Registry API, read-only,
 * over schemas/. Settings in config.ts: REGISTRY_HOST (loopback by default), REGISTRY_PORT
 * (8091), FERRY_TOPIC_PREFIX (subjects follow the topic names).
 */
import { serve } from '@hono/node-server';
import { orExit } from '../lib/config.ts';
import { createLogger } from '../lib/logger.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { createRegistryApp, subjectOf } from './app.ts';
import { loadRegistryConfig } from './config.ts';

const config = orExit(() => loadRegistryConfig());
const logger = createLogger('ferry-registry', config.logLevel);
// Throws, and so stops the process, on a schema that cannot read an earlier version.
const registry = loadRegistry();
const app = createRegistryApp({ registry, topicPrefix: config.topicPrefix });
const server = serve(
  { fetch: app.fetch, port: config.port, hostname: config.host },
  (info) =>
    logger.info(
      { host: config.host, port: info.port, subjects: [...registry.topics.keys()].map((t) => subjectOf(config.topicPrefix, t)) },
      'schema registry listening',
    ),
);

let closing = false;
const shutdown = () => {
  if (closing) return;
  closing = true;
  server.close(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
