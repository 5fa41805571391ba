/**
 * The Deno edge gateway with API keys: it authenticates like the Node gateway, and the tenant
 * header it sets survives the hop through the producer service into Kafka.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { type EdgeStack, freePort, isolate, type Isolated, orderEvent, postJson, startEdgeStack } from './helpers.ts';
import { readTopic } from './kafka-reader.ts';

const TOKEN = `edge-auth-${randomBytes(12).toString('hex')}`;
const KEY = `fry_${randomBytes(24).toString('base64url')}`;
const BEACON_KEY = `fry_${randomBytes(24).toString('base64url')}`;
const API_KEYS = JSON.stringify([
  { id: 'edge-web', tenant: 'acme', sha256: createHash('sha256').update(KEY).digest('hex'), scopes: ['write:orders'] },
  { id: 'edge-pages', tenant: 'acme', sha256: createHash('sha256').update(BEACON_KEY).digest('hex'), scopes: ['write:page_views'], beacon: true },
]);

let iso: Isolated;
let stack: EdgeStack;
let edgeUrl: string;

before(async () => {
  iso = await isolate();
  stack = await startEdgeStack(iso, { REDIS_URL: '', FERRY_API_KEYS: API_KEYS }, TOKEN);
  edgeUrl = stack.url;
});

after(async () => {
  await stack?.stop();
  await iso?.cleanup();
});

const codec = new Codec(loadRegistry());

/** The first record of a topic: its event id and the tenant header the gateway set. */
async function firstRecord(logical: string): Promise<{ id: string; tenant: string | undefined }> {
  const [record] = await readTopic(iso.env.KAFKA_BROKERS!, iso.topic(logical), 1);
  assert.ok(record, `a record in ${logical}`);
  return { id: String(codec.decode(record.value).value.event_id), tenant: record.headers['ferry-tenant'] };
}

const order = orderEvent('edge-auth-1', 'created', '2026-11-23T10:00:00Z');

test('the edge gateway answers 401 and 403 like the Node gateway, and its records carry the tenant into Kafka', async () => {
  const none = await postJson(`${edgeUrl}/v1/events/orders`, order);
  assert.equal(none.status, 401);
  assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="ferry"');
  assert.equal((await postJson(`${edgeUrl}/v1/events/page_views`, order, { 'x-api-key': KEY })).status, 403);

  const ok = await postJson(`${edgeUrl}/v1/events/orders`, order, { 'x-api-key': KEY });
  assert.equal(ok.status, 202, ok.text);
  const event_id = ok.json.event_id as string;

  assert.deepEqual(await firstRecord('orders'), { id: event_id, tenant: 'acme' });
});

test('the edge gateway takes a beacon with a beacon key in its URL, and refuses other keys there', async () => {
  const beacon = (key: string) =>
    fetch(`${edgeUrl}/v1/beacon/page_views?key=${encodeURIComponent(key)}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=UTF-8', origin: 'https://shop.example' },
      body: JSON.stringify({ user_id: 'u-edge', url: 'https://shop.example/edge', occurred_at: '2026-12-04T10:00:00Z' }),
    });
  assert.equal((await beacon(KEY)).status, 401, 'a key not listed for beacons');
  const ok = await beacon(BEACON_KEY);
  assert.equal(ok.status, 202, await ok.clone().text());
  const { event_id } = (await ok.json()) as { event_id: string };

  // The refused beacon had the same key, so anything it produced would come first.
  assert.deepEqual(await firstRecord('page_views'), { id: event_id, tenant: 'acme' }, 'the refused beacon produced nothing');
});

test('the edge gateway refuses to start in production without credentials: one line, exit 2', async () => {
  const before = stack.output().length;
  const child = stack.startEdge({ EDGE_PORT: String(await freePort()), REDIS_URL: '', NODE_ENV: 'production' });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 2);
  const lines = stack.output().slice(before).split('\n').filter((l) => l.startsWith('ferry:'));
  assert.equal(lines.length, 1, stack.output().slice(before));
  assert.match(lines[0]!, /FERRY_API_KEYS: NODE_ENV=production/);
});
