/**
 * The edge gateway on Deno: validates and Avro-encodes, forwards to the Node producer service,
 * which produces to the real Kafka. The records read back decode as standard Confluent-framed Avro.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import avro from 'avsc';
import { loadRegistry } from '../schemas/registry.ts';
import { type EdgeStack, freePort, isolate, type Isolated, startEdgeStack, waitFor } from './helpers.ts';
import { readTopic } from './kafka-reader.ts';

let iso: Isolated;
let stack: EdgeStack;
let edgeUrl: string;

before(async () => {
  iso = await isolate();
  // Fetch-only: no Redis (edge-redis.integration.test.ts covers the edge with Redis).
  stack = await startEdgeStack(iso, { REDIS_URL: '' });
  edgeUrl = stack.url;
});

after(async () => {
  await stack?.stop();
  await iso?.cleanup();
});

test('events posted to the Deno gateway arrive in Kafka as Confluent-framed Avro', async () => {
  const sent = Array.from({ length: 20 }, (_, i) => ({
    order_id: `edge-${i}`,
    customer_id: 'c-1',
    status: 'created',
    amount_cents: 100 * i,
    currency: 'USD',
    items: [],
    occurred_at: '2026-11-23T10:00:00Z',
  }));
  const client = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const res = await fetch(`${edgeUrl}/v1/events/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: client },
    body: JSON.stringify(sent),
  });
  assert.equal(res.status, 202, await res.clone().text());
  // Tracing is API-only on Deno: the trace is continued and forwarded, nothing exported.
  const traceparent = res.headers.get('traceparent') ?? '';
  assert.match(traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
  assert.notEqual(traceparent, client);
  const body = (await res.json()) as { results: { status: string; event_id: string }[] };
  assert.equal(body.results.length, 20);
  assert.ok(body.results.every((r) => r.status === 'accepted'));

  const records = await readTopic(iso.env.KAFKA_BROKERS!, iso.topic('orders'), 20);
  assert.equal(records.length, 20);
  assert.ok(records.every((r) => r.headers.traceparent === traceparent), 'every record carries the request span');
  // Decode as any Confluent consumer would: magic byte, schema id, then plain Avro.
  const entry = loadRegistry().topics.get('orders')!;
  const type = avro.Type.forSchema(entry.latest.schema as avro.Schema);
  const got = records.map((r) => {
    assert.equal(r.value[0], 0);
    assert.equal(r.value.readUInt32BE(1), entry.latest.id);
    const v = type.fromBuffer(r.value.subarray(5)) as Record<string, unknown>;
    assert.equal(r.key, v.order_id);
    return v;
  });
  got.sort((a, b) => Number(a.amount_cents) - Number(b.amount_cents));
  assert.deepEqual(got.map((v) => v.order_id), sent.map((s) => s.order_id));
  assert.equal(got[3]!.occurred_at, Date.parse('2026-11-23T10:00:00Z'));
  assert.deepEqual(new Set(got.map((v) => v.event_id)), new Set(body.results.map((r) => r.event_id)));
});

test('the edge gateway rejects an invalid event with 422 and produces nothing', async () => {
  const res = await fetch(`${edgeUrl}/v1/events/page_views`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: 'u', url: 'not-a-url', occurred_at: '2026-11-23T10:00:00Z' }),
  });
  assert.equal(res.status, 422);
  assert.equal(((await res.json()) as { errors: { field: string }[] }).errors[0]!.field, 'url');
});

test('the producer service refuses callers without the token and records that are not well-formed', async () => {
  const noToken = await fetch(`${stack.producerUrl}/v1/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"records":[]}' });
  assert.equal(noToken.status, 401);
  const auth = { 'content-type': 'application/json', authorization: `Bearer ${stack.token}` };
  const garbage = await fetch(`${stack.producerUrl}/v1/records`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ records: [{ topic: iso.topic('orders'), key: 'k', value_base64: Buffer.from('not avro').toString('base64') }] }),
  });
  assert.equal(garbage.status, 422);
  const unknownTopic = await fetch(`${stack.producerUrl}/v1/records`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ records: [{ topic: 'elsewhere', key: 'k', value_base64: 'AA==' }] }),
  });
  assert.equal(unknownTopic.status, 422);
});

test('a producer service that takes the request and never answers: the edge answers 503 with Retry-After by the delivery timeout', async () => {
  // Accepts connections and reads, never writes: a hung or frozen producer service.
  const held = new Set<Socket>();
  const silent = createServer((s) => void held.add(s.on('error', () => {})));
  const silentPort = await freePort();
  await new Promise<void>((resolve) => silent.listen(silentPort, '127.0.0.1', resolve));
  const edgePort = await freePort();
  const edge = stack.startEdge({
    REDIS_URL: '',
    EDGE_PORT: String(edgePort),
    PRODUCER_URL: `http://127.0.0.1:${silentPort}`,
    KAFKA_DELIVERY_TIMEOUT_MS: '1000',
  });
  try {
    const url = `http://127.0.0.1:${edgePort}`;
    await waitFor(async () => (await fetch(`${url}/healthz`)).ok, { what: 'second edge gateway up', timeoutMs: 60_000 });
    const started = Date.now();
    const res = await fetch(`${url}/v1/events/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        order_id: 'edge-hung',
        customer_id: 'c-1',
        status: 'created',
        amount_cents: 1,
        currency: 'USD',
        items: [],
        occurred_at: '2026-11-23T10:00:00Z',
      }),
    });
    const took = Date.now() - started;
    assert.equal(res.status, 503, await res.clone().text());
    assert.equal(res.headers.get('retry-after'), '1');
    assert.ok(took < 5000, `answered after ${took} ms`);
  } finally {
    await new Promise((resolve) => {
      edge.once('exit', resolve);
      edge.kill('SIGTERM');
    });
    for (const s of held) s.destroy();
    silent.close();
  }
});
