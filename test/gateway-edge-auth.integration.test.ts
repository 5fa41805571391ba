/**
 * The Deno edge gateway with API keys: it authenticates like the Node gateway, and the tenant
 * header it sets survives the hop through the producer service into Kafka.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import type { KafkaJS as KafkaJSTypes } from '@confluentinc/kafka-javascript';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { freePort, isolate, startProcess, waitFor, type Isolated, type Proc } from './helpers.ts';

const require = createRequire(import.meta.url);
const { KafkaJS } = require('@confluentinc/kafka-javascript') as { KafkaJS: typeof KafkaJSTypes };
const root = new URL('../', import.meta.url).pathname;
const TOKEN = `edge-auth-${randomBytes(12).toString('hex')}`;
const KEY = `fry_${randomBytes(24).toString('base64url')}`;
const API_KEYS = JSON.stringify([{ id: 'edge-web', tenant: 'acme', sha256: createHash('sha256').update(KEY).digest('hex'), scopes: ['write:orders'] }]);

let iso: Isolated;
let producer: Proc;
let edge: ChildProcess;
let edgeOut = '';
let edgeUrl: string;

function startEdge(env: Record<string, string>): ChildProcess {
  const child = spawn('node_modules/deno/deno', ['task', 'edge'], { cwd: root, env: { ...process.env, HOST: '127.0.0.1', FERRY_TOPIC_PREFIX: iso.env.FERRY_TOPIC_PREFIX!, PRODUCER_TOKEN: TOKEN, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b: Buffer) => (edgeOut += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (edgeOut += b.toString()));
  return child;
}

before(async () => {
  iso = await isolate();
  const producerPort = await freePort();
  const edgePort = await freePort();
  edgeUrl = `http://127.0.0.1:${edgePort}`;
  producer = startProcess('gateway/producer-node.ts', { ...iso.env, PRODUCER_PORT: String(producerPort), PRODUCER_TOKEN: TOKEN, HOST: '127.0.0.1' });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${producerPort}/readyz`)).ok, { what: 'producer service ready', timeoutMs: 60_000 });
  edge = startEdge({ EDGE_PORT: String(edgePort), PRODUCER_URL: `http://127.0.0.1:${producerPort}`, FERRY_API_KEYS: API_KEYS });
  await waitFor(async () => (await fetch(`${edgeUrl}/healthz`)).ok, { what: 'edge gateway up', timeoutMs: 60_000 }).catch((err) => {
    throw new Error(`${(err as Error).message}\n${edgeOut}`);
  });
});

after(async () => {
  edge?.kill('SIGTERM');
  await producer?.stop();
  await iso?.cleanup();
});

const order = { order_id: 'edge-auth-1', customer_id: 'c', status: 'created', amount_cents: 5, currency: 'EUR', items: [], occurred_at: '2026-11-23T10:00:00Z' };
const post = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${edgeUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(order) });

test('the edge gateway answers 401 and 403 like the Node gateway, and its records carry the tenant into Kafka', async () => {
  const none = await post('/v1/events/orders');
  assert.equal(none.status, 401);
  assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="ferry"');
  assert.equal((await post('/v1/events/page_views', { 'x-api-key': KEY })).status, 403);

  const ok = await post('/v1/events/orders', { 'x-api-key': KEY });
  assert.equal(ok.status, 202, await ok.clone().text());
  const { event_id } = (await ok.json()) as { event_id: string };

  const kafka = new KafkaJS.Kafka({ kafkaJS: { brokers: iso.env.KAFKA_BROKERS!.split(','), logLevel: KafkaJS.logLevel.ERROR } });
  const consumer = kafka.consumer({ kafkaJS: { groupId: `edge-auth-${Date.now()}`, fromBeginning: true, autoCommit: false } });
  await consumer.connect();
  await consumer.subscribe({ topics: [iso.topic('orders')] });
  const codec = new Codec(loadRegistry());
  let found: { id: string; tenant: string } | undefined;
  await consumer.run({
    eachMessage: async ({ message }) => {
      found = { id: String(codec.decode(message.value!).value.event_id), tenant: String(message.headers?.['ferry-tenant']) };
    },
  });
  await waitFor(async () => found, { what: 'the record in Kafka', timeoutMs: 30_000 });
  await consumer.disconnect();
  assert.deepEqual(found, { id: event_id, tenant: 'acme' });
});

test('the edge gateway refuses to start in production without credentials: one line, exit 2', async () => {
  const before = edgeOut.length;
  const child = startEdge({ EDGE_PORT: String(await freePort()), NODE_ENV: 'production' });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 2);
  const lines = edgeOut.slice(before).split('\n').filter((l) => l.startsWith('ferry:'));
  assert.equal(lines.length, 1, edgeOut.slice(before));
  assert.match(lines[0]!, /FERRY_API_KEYS: NODE_ENV=production/);
});
