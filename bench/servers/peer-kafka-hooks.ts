/**
 * The peer of ratio 5: @platformatic/kafka-hooks from the bench's cache (bench/peer-install.ts),
 * started as its own service (its `create`, `init`, `start`), in one process and one thread, as
 * Ferry's gateway runs with GATEWAY_PROCESSES=1. It publishes with `POST /topics/:topic`.
 *
 * kafka-hooks requires every topic it publishes to to be consumed too, forwarding each message to
 * a webhook URL. Its consumer's options are spread over the topics it consumes, so a `topics`
 * option there replaces them: the consumer reads an idle topic of its own instead, and this
 * process only publishes, as the gateway does.
 *
 * Environment: PEER_DIR (the cache), PORT, HOST, KAFKA_BROKERS, PEER_TOPICS (comma-separated),
 * PEER_IDLE_TOPIC, PEER_GROUP.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

interface Capability {
  init(): Promise<void>;
  start(options: { listen: boolean }): Promise<string>;
  stop(): Promise<void>;
}

const env = process.env;
const need = (name: string): string => {
  const v = env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};
const dir = need('PEER_DIR');
const require = createRequire(`${dir}/package.json`);
const hooks = (await import(pathToFileURL(require.resolve('@platformatic/kafka-hooks')).href)) as {
  create: (root: string, config: unknown) => Promise<Capability>;
};

const config = {
  // Warnings only, as the bench runs Ferry (LOG_LEVEL=warn): no per-request log lines.
  server: { hostname: env.HOST ?? '127.0.0.1', port: Number(need('PORT')), logger: { level: 'warn' } },
  kafka: {
    brokers: need('KAFKA_BROKERS').split(','),
    // The webhook is never called: nothing consumes these topics (see above).
    topics: need('PEER_TOPICS').split(',').map((topic) => ({ topic, url: 'http://127.0.0.1:9/unused', dlq: false })),
    consumer: { groupId: need('PEER_GROUP'), topics: [need('PEER_IDLE_TOPIC')] },
  },
};
const app = await hooks.create(dir, config);
await app.init();
const url = await app.start({ listen: true });
process.stdout.write(`kafka-hooks listening on ${url}\n`);

const stop = () => app.stop().then(() => process.exit(0), () => process.exit(1));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
