/**
 * Deno / edge entry: the same gateway app, forwarding encoded records to the producer
 * service (librdkafka does not load in Deno). Start with `deno task edge`.
 * EDGE_PORT (default 8081), PRODUCER_URL (default http://127.0.0.1:8090), PRODUCER_TOKEN,
 * and the Node gateway's FERRY_API_KEYS / FERRY_JWT_SECRET / CORS_ORIGINS / NODE_ENV rules.
 * There is no Redis here: no rate limits, Idempotency-Key or Prefer: wait (see docs/api.md).
 */
import { createApp } from './app.ts';
import { createAuthenticator, parseApiKeys } from './auth.ts';
import { HttpProducer } from './http-producer.ts';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';

declare const Deno: {
  env: { get(name: string): string | undefined };
  serve(options: { port: number; hostname: string; onListen?: (a: { port: number }) => void }, handler: (req: Request) => Response | Promise<Response>): { shutdown(): Promise<void> };
  addSignalListener(signal: string, fn: () => void): void;
  exit(code: number): never;
};

const port = Number(Deno.env.get('EDGE_PORT') ?? '8081');
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error('ferry: invalid configuration: EDGE_PORT: must be a port number');
  Deno.exit(2);
}
const prefix = Deno.env.get('FERRY_TOPIC_PREFIX') ?? '';
const production = Deno.env.get('NODE_ENV') === 'production';
let authenticator;
try {
  const secret = Deno.env.get('FERRY_JWT_SECRET') ?? '';
  if (secret !== '' && secret.length < 32) throw new Error('FERRY_JWT_SECRET: must be at least 32 characters (HS256 needs a 256-bit secret)');
  authenticator = createAuthenticator({
    apiKeys: parseApiKeys(Deno.env.get('FERRY_API_KEYS')),
    jwt: secret ? { secret, issuer: Deno.env.get('FERRY_JWT_ISSUER') || undefined, audience: Deno.env.get('FERRY_JWT_AUDIENCE') || undefined } : undefined,
  });
} catch (err) {
  console.error(`ferry: invalid configuration: ${(err as Error).message}`);
  Deno.exit(2);
}
if (!authenticator) {
  if (production) {
    console.error('ferry: invalid configuration: FERRY_API_KEYS: NODE_ENV=production and neither FERRY_API_KEYS nor FERRY_JWT_SECRET is set: refusing to serve without authentication');
    Deno.exit(2);
  }
  console.error(JSON.stringify({ level: 'warn', msg: 'AUTHENTICATION IS OFF: neither FERRY_API_KEYS nor FERRY_JWT_SECRET is set. Development only.' }));
}
const cors = Deno.env.get('CORS_ORIGINS') ?? (production ? '' : '*');
const token = Deno.env.get('PRODUCER_TOKEN') ?? 'ferry-dev-producer-token';
const registry = loadRegistry();
const app = createApp({
  producer: new HttpProducer({ url: Deno.env.get('PRODUCER_URL') ?? 'http://127.0.0.1:8090', token }),
  registry,
  codec: new Codec(registry),
  topicName: (t) => prefix + t,
  authenticator,
  corsOrigins: cors.split(',').map((o) => o.trim()).filter(Boolean),
});
const server = Deno.serve({ port, hostname: Deno.env.get('HOST') ?? '0.0.0.0', onListen: ({ port }) => console.log(JSON.stringify({ msg: 'edge gateway listening', port })) }, app.fetch);
const stop = () => void server.shutdown().then(() => Deno.exit(0));
Deno.addSignalListener('SIGTERM', stop);
Deno.addSignalListener('SIGINT', stop);
