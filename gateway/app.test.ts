import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { createApp, type GatewayOptions } from './app.ts';
import { FakeProducer, FakeReadModel, order, post } from '../test/fakes.ts';

const registry = loadRegistry();
const codec = new Codec(registry);
const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
const CLIENT_ID = '9f1c2d3e-4b5a-4c6d-9e8f-0a1b2c3d4e5f';

function setup(producer = new FakeProducer(), options: Partial<GatewayOptions> = {}) {
  let n = 0;
  const app = createApp({
    producer,
    registry,
    codec,
    now: () => NOW,
    newId: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
    ...options,
  });
  return { app, producer };
}

async function problemOf(res: Response, status: number): Promise<Record<string, unknown>> {
  assert.equal(res.status, status);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(body.status, status);
  assert.equal(typeof body.title, 'string');
  return body;
}

describe('POST /v1/events/:topic accepted', () => {
  it('produces one valid order and answers 202', async () => {
    const { app, producer } = setup();
    const res = await app.request('/v1/events/orders', post(order()));
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { event_id: '00000000-0000-4000-8000-000000000001', topic: 'orders', partition: 0, offset: '100' });
    assert.equal(producer.sent.length, 1);
    assert.equal(producer.records.length, 1);
    const rec = producer.records[0]!;
    assert.equal(rec.topic, 'orders');
    assert.equal(rec.key, 'o-1');
    const decoded = codec.decode(rec.value);
    assert.equal(decoded.topic, 'orders');
    assert.deepEqual(JSON.parse(JSON.stringify(decoded.value)), {
      ...order(),
      event_id: '00000000-0000-4000-8000-000000000001',
      received_at: NOW,
      occurred_at: Date.UTC(2026, 10, 23, 11),
    });
  });

  it('keeps an event_id sent by the client', async () => {
    const { app, producer } = setup();
    const res = await app.request('/v1/events/orders', post(order('o-1', { event_id: CLIENT_ID })));
    assert.equal(res.status, 202);
    assert.equal(((await res.json()) as { event_id: string }).event_id, CLIENT_ID);
    assert.equal(codec.decode(producer.records[0]!.value).value.event_id, CLIENT_ID);
  });

  it('produces an array of 3 in order', async () => {
    const { app, producer } = setup();
    const res = await app.request('/v1/events/orders', post([order('a'), order('b'), order('c')]));
    assert.equal(res.status, 202);
    const body = (await res.json()) as { topic: string; accepted: number; failed: number; results: Record<string, unknown>[] };
    assert.equal(body.topic, 'orders');
    assert.equal(body.accepted, 3);
    assert.equal(body.failed, 0);
    assert.deepEqual(
      body.results,
      [1, 2, 3].map((n, i) => ({ status: 'accepted', event_id: `00000000-0000-4000-8000-00000000000${n}`, partition: i % 3, offset: String(100 + i) })),
    );
    assert.equal(producer.sent.length, 1, 'one send for the whole batch');
    assert.deepEqual(producer.records.map((r) => r.key), ['a', 'b', 'c']);
  });

  it('accepts NDJSON', async () => {
    const { app, producer } = setup();
    const ndjson = `${JSON.stringify(order('a'))}\n\n${JSON.stringify(order('b'))}\r\n`;
    const res = await app.request('/v1/events/orders', post(ndjson, { 'content-type': 'application/x-ndjson' }));
    assert.equal(res.status, 202);
    assert.equal(((await res.json()) as { accepted: number }).accepted, 2);
    assert.deepEqual(producer.records.map((r) => r.key), ['a', 'b']);
  });

  it('accepts a content type with parameters, and page views keyed by user_id', async () => {
    const { app, producer } = setup();
    const view = { user_id: 'u-9', url: 'https://shop.example/', occurred_at: '2026-11-23T11:00:00Z' };
    const res = await app.request('/v1/events/page_views', post(view, { 'content-type': 'Application/JSON; charset=utf-8' }));
    assert.equal(res.status, 202);
    assert.equal(producer.records[0]!.key, 'u-9');
    assert.equal(codec.decode(producer.records[0]!.value).value.referrer, null);
  });

  it('maps the Kafka topic with topicName', async () => {
    const { app, producer } = setup(new FakeProducer(), { topicName: (t) => `x.${t}` });
    const res = await app.request('/v1/events/orders', post([order('a'), order('b')]));
    assert.equal(res.status, 202);
    assert.deepEqual(producer.records.map((r) => r.topic), ['x.orders', 'x.orders']);
    assert.equal(((await res.json()) as { topic: string }).topic, 'orders');
  });
});

describe('POST /v1/events/:topic rejected', () => {
  it('rejects a whole batch with one invalid event: 422, nothing produced', async () => {
    const { app, producer } = setup();
    const res = await app.request('/v1/events/orders', post([order('a'), order('b', { currency: 'eur' }), order('c')]));
    const body = await problemOf(res, 422);
    assert.deepEqual(body.errors, [{ index: 1, field: 'currency', reason: 'must match ^[A-Z]{3}$' }]);
    assert.match(String(body.detail), /1 of 3 events are invalid/);
    assert.equal(producer.sent.length, 0);
  });

  it('names the field, without an index, for a single invalid event', async () => {
    const { app, producer } = setup();
    const res = await app.request('/v1/events/orders', post(order('o-1', { amount_cents: -5 })));
    const body = await problemOf(res, 422);
    assert.deepEqual(body.errors, [{ field: 'amount_cents', reason: 'must be at least 0' }]);
    assert.equal(body.detail, 'amount_cents must be at least 0');
    assert.equal(producer.sent.length, 0);
  });

  it('answers 400 for malformed JSON, in JSON or NDJSON', async () => {
    const { app, producer } = setup();
    await problemOf(await app.request('/v1/events/orders', post('{"order_id":')), 400);
    await problemOf(await app.request('/v1/events/orders', post('{}\n{oops', { 'content-type': 'application/x-ndjson' })), 400);
    await problemOf(await app.request('/v1/events/orders', post('')), 400);
    assert.equal(producer.sent.length, 0);
  });

  it('answers 404 for an unknown topic', async () => {
    const { app, producer } = setup();
    const body = await problemOf(await app.request('/v1/events/refunds', post(order())), 404);
    assert.equal(body.topic, 'refunds');
    assert.equal(producer.sent.length, 0);
  });

  it('answers 404 problem+json for an unknown route', async () => {
    const { app } = setup();
    await problemOf(await app.request('/v2/nothing'), 404);
  });

  it('answers 415 for text/plain or no content type', async () => {
    const { app, producer } = setup();
    await problemOf(await app.request('/v1/events/orders', post(order(), { 'content-type': 'text/plain' })), 415);
    await problemOf(await app.request('/v1/events/orders', { method: 'POST', body: JSON.stringify(order()) }), 415);
    assert.equal(producer.sent.length, 0);
  });

  it('answers 413 for a body over maxBodyBytes and produces nothing', async () => {
    const { app, producer } = setup(new FakeProducer(), { maxBodyBytes: 2048 });
    const big = Array.from({ length: 20 }, (_, i) => order(`o-${i}`));
    assert.ok(JSON.stringify(big).length > 2048);
    await problemOf(await app.request('/v1/events/orders', post(big)), 413);
    const withLength = { ...post(big), headers: { 'content-type': 'application/json', 'content-length': String(JSON.stringify(big).length) } };
    await problemOf(await app.request('/v1/events/orders', withLength), 413);
    assert.equal(producer.sent.length, 0);
    // A body within the limit is still accepted.
    assert.equal((await app.request('/v1/events/orders', post(order()))).status, 202);
  });

  it('answers 422 for an empty array or an empty NDJSON body', async () => {
    const { app, producer } = setup();
    await problemOf(await app.request('/v1/events/orders', post([])), 422);
    await problemOf(await app.request('/v1/events/orders', post('\n\n', { 'content-type': 'application/x-ndjson' })), 422);
    assert.equal(producer.sent.length, 0);
  });

  it('answers 413 for more than maxBatchEvents', async () => {
    const { app, producer } = setup(new FakeProducer(), { maxBatchEvents: 2 });
    await problemOf(await app.request('/v1/events/orders', post([order('a'), order('b'), order('c')])), 413);
    assert.equal(producer.sent.length, 0);
    assert.equal((await app.request('/v1/events/orders', post([order('a'), order('b')]))).status, 202);
  });

  it('counts a batch before parsing it: an array or NDJSON past maxBatchEvents is never parsed', async () => {
    const { app, producer } = setup(new FakeProducer(), { maxBatchEvents: 500 });
    const parse = JSON.parse;
    let parsed = 0;
    JSON.parse = ((text: string, reviver?: (k: string, v: unknown) => unknown) => {
      if (text.length > 100_000) parsed++;
      return parse(text, reviver);
    }) as typeof JSON.parse;
    try {
      const array = await problemOf(await app.request('/v1/events/orders', post(`[${'{},'.repeat(200_000)}{}]`)), 413);
      assert.match(String(array.detail), /at most 500 events \(MAX_BATCH_EVENTS\)/);
      await problemOf(await app.request('/v1/events/orders', post('{}\n'.repeat(200_000), { 'content-type': 'application/x-ndjson' })), 413);
      assert.equal(parsed, 0, 'JSON.parse never ran on either body');
    } finally {
      JSON.parse = parse;
    }
    assert.equal(producer.sent.length, 0);
  });
});

describe('GET /v1/orders/:order_id with ids no store can hold', () => {
  it('answers 404, not 503, for NUL or a lone surrogate', async () => {
    const readModel = new FakeReadModel();
    readModel.getOrder = async (_tenant, id) => {
      if (id.includes('\0')) throw new Error('invalid byte sequence for encoding "UTF8": 0x00');
      return null;
    };
    const { app } = setup(new FakeProducer(), { readModel });
    for (const path of ['/v1/orders/a%00b', '/v1/orders/%00', '/v1/orders/a%ED%A0%80b']) {
      const res = await app.request(path);
      assert.equal(res.status, 404, path);
      assert.equal(res.headers.get('retry-after'), null);
    }
    await problemOf(await app.request('/v1/orders/%F0%9F%98%80'), 404);
  });
});

describe('POST /v1/events/:topic delivery failures', () => {
  it('answers 503 with retry-after when every delivery fails', async () => {
    const { app } = setup(new FakeProducer(() => true));
    const res = await app.request('/v1/events/orders', post(order()));
    const body = await problemOf(res, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.equal(body.detail, 'broker down 0');

    const batch = await app.request('/v1/events/orders', post([order('a'), order('b')]));
    const batchBody = await problemOf(batch, 503);
    assert.equal(batch.headers.get('retry-after'), '1');
    assert.deepEqual((batchBody.results as { index: number }[]).map((r) => r.index), [0, 1]);
  });

  it('answers 207 listing the failed indexes when some fail', async () => {
    const { app } = setup(new FakeProducer((i) => i === 1 || i === 3));
    const res = await app.request('/v1/events/orders', post(['a', 'b', 'c', 'd'].map((id) => order(id))));
    assert.equal(res.status, 207);
    const body = (await res.json()) as { accepted: number; failed: number; results: Record<string, unknown>[] };
    assert.equal(body.accepted, 2);
    assert.equal(body.failed, 2);
    assert.deepEqual(body.results.map((r) => r.status), ['accepted', 'failed', 'accepted', 'failed']);
    assert.deepEqual(body.results.filter((r) => r.status === 'failed'), [
      { status: 'failed', index: 1, event_id: '00000000-0000-4000-8000-000000000002', reason: 'broker down 1' },
      { status: 'failed', index: 3, event_id: '00000000-0000-4000-8000-000000000004', reason: 'broker down 3' },
    ]);
  });

  // Known bug (see report): EventProducer.send may reject "when nothing could be attempted"
  // (KafkaProducer.send rejects when it cannot connect); the gateway answers a bare 500.
  it('answers 503 when the producer rejects', async () => {
    const producer = new FakeProducer();
    producer.send = async () => {
      throw new Error('connect timeout');
    };
    const { app } = setup(producer);
    const origError = console.error;
    console.error = () => {};
    try {
      const res = await app.request('/v1/events/orders', post(order()));
      await problemOf(res, 503);
      assert.equal(res.headers.get('retry-after'), '1');
    } finally {
      console.error = origError;
    }
  });

  it('answers 503 with retry-after once sendTimeoutMs passed, whatever the producer still waits for', async () => {
    const producer = new FakeProducer();
    producer.send = () => new Promise(() => {});
    const { app } = setup(producer, { sendTimeoutMs: 50 });
    const started = Date.now();
    const res = await app.request('/v1/events/orders', post(order()));
    const body = await problemOf(res, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.match(String(body.detail), /may or may not have been written/);
    assert.ok(Date.now() - started < 2000);
  });
});

describe('health', () => {
  it('GET /healthz answers 200', async () => {
    const { app } = setup();
    const res = await app.request('/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });
});
