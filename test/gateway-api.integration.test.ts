/**
 * The production ingest API through the real Kafka and Redis: every status code the gateway
 * answers, with the records read back from Kafka where something was produced, and Kafka's
 * high watermarks unchanged where the request was refused.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KafkaJS as KafkaJSTypes } from '@confluentinc/kafka-javascript';
import { sign } from 'hono/jwt';
import { encodeApplied } from '../lib/contract.ts';
import { orderKey } from '../lib/order-cache.ts';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { isolate, type Isolated, onMinute, orderEvent, type Proc, startGateway, waitFor } from './helpers.ts';
import { readTopic } from './kafka-reader.ts';

const require = createRequire(import.meta.url);
const { KafkaJS } = require('@confluentinc/kafka-javascript') as { KafkaJS: typeof KafkaJSTypes };

const codec = new Codec(loadRegistry());
const newKey = () => `fry_${randomBytes(24).toString('base64url')}`;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const WRITER = newKey();
const READER = newKey();
const NARROW = newKey();
const JWT_SECRET = randomBytes(32).toString('hex');
const API_KEYS = JSON.stringify([
  { id: 'writer', tenant: 'acme', sha256: sha(WRITER), scopes: ['write:orders', 'write:page_views', 'read:orders'] },
  { id: 'reader', tenant: 'acme', sha256: sha(READER), scopes: ['read:orders'] },
  { id: 'narrow', tenant: 'globex', sha256: sha(NARROW), scopes: ['write:orders'] },
]);

let iso: Isolated;
let gateway: { proc: Proc; url: string };
let limited: { proc: Proc; url: string };
let admin: KafkaJSTypes.Admin;

before(async () => {
  iso = await isolate();
  const env = { ...iso.env, FERRY_API_KEYS: API_KEYS, FERRY_JWT_SECRET: JWT_SECRET, MAX_BODY_BYTES: '4096', MAX_BATCH_EVENTS: '20' };
  [gateway, limited] = await Promise.all([startGateway(env), startGateway({ ...env, RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '2' })]);
  admin = new KafkaJS.Kafka({ kafkaJS: { brokers: iso.env.KAFKA_BROKERS!.split(','), logLevel: KafkaJS.logLevel.ERROR } }).admin();
  await admin.connect();
});

after(async () => {
  await admin?.disconnect();
  const codes = await Promise.all([gateway?.proc.stop(), limited?.proc.stop()]);
  const output = `${gateway?.proc.output()}\n${limited?.proc.output()}`;
  await iso?.cleanup();
  assert.deepEqual(codes, [0, 0], output);
  // Credentials never reach the logs.
  for (const secret of [WRITER, READER, NARROW, JWT_SECRET]) assert.ok(!output.includes(secret), 'a credential was logged');
});

/** Records in a topic: the sum of its partitions' high watermarks (no transactions, so exact). */
async function count(logical: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(iso.topic(logical));
  return offsets.reduce((n, p) => n + Number(p.high), 0);
}

async function counts(): Promise<{ orders: number; page_views: number }> {
  return { orders: await count('orders'), page_views: await count('page_views') };
}

/** A created order of one item (the amounts some assertions read back). */
const order = (id: string, extra: Record<string, unknown> = {}) =>
  orderEvent(id, 'created', onMinute(0), { amount_cents: 1999, items: [{ sku: 'SKU-1', quantity: 1, price_cents: 1999 }], ...extra });

const view = (i: number) => ({ user_id: `u-${i}`, url: 'https://shop.example/', occurred_at: '2026-11-23T10:00:00Z' });

async function request(base: string, path: string, init: { body?: unknown; headers?: Record<string, string>; method?: string; raw?: string } = {}) {
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? (init.body !== undefined || init.raw !== undefined ? 'POST' : 'GET'),
    headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
    body: init.raw ?? (init.body !== undefined ? JSON.stringify(init.body) : undefined),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: (text ? JSON.parse(text) : undefined) as Record<string, unknown> };
}

const post = (path: string, body: unknown, headers: Record<string, string> = {}) => request(gateway.url, path, { body, headers });

function assertProblem(r: Awaited<ReturnType<typeof request>>, status: number, what: string): void {
  assert.equal(r.status, status, `${what}: ${r.text}`);
  assert.equal(r.headers.get('content-type'), 'application/problem+json', what);
  assert.equal(r.json.status, status, what);
  assert.equal(typeof r.json.title, 'string', what);
}

/** Every record of a topic, with headers, decoded. */
async function records(logical: string) {
  const total = await count(logical);
  const raw = await readTopic(iso.env.KAFKA_BROKERS!, iso.topic(logical), total);
  assert.equal(raw.length, total, 'read every record back');
  return raw.map((r) => ({ ...r, event: codec.decode(r.value).value }));
}

/** The ferry-tenant header of the records with these event ids. */
async function tenants(logical: string, eventIds: string[]): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const r of await records(logical)) {
    const id = String(r.event.event_id);
    if (eventIds.includes(id)) found.set(id, String(r.headers['ferry-tenant']));
  }
  return found;
}

describe('accepted', () => {
  test('202: one event, a batch and NDJSON land in Kafka as sent, keyed by order_id, with the tenant of the credential', async () => {
    const before = await count('orders');
    const single = await post('/v1/events/orders', order('a-1'), { 'x-api-key': WRITER });
    assert.equal(single.status, 202, single.text);
    const batch = await post('/v1/events/orders', [order('a-2'), order('a-3', { status: 'paid' }), order('a-4')], { authorization: `Bearer ${WRITER}` });
    assert.equal(batch.status, 202, batch.text);
    const ndjson = await request(gateway.url, '/v1/events/orders', {
      raw: `${JSON.stringify(order('a-5'))}\n${JSON.stringify(order('a-6'))}\n`,
      headers: { 'content-type': 'application/x-ndjson', 'x-api-key': WRITER },
    });
    assert.equal(ndjson.status, 202, ndjson.text);
    const token = await sign({ sub: 'checkout-svc', tenant: 'initech', scope: 'write:orders', exp: Math.floor(Date.now() / 1000) + 300 }, JWT_SECRET, 'HS256');
    const viaJwt = await post('/v1/events/orders', order('a-7'), { authorization: `Bearer ${token}` });
    assert.equal(viaJwt.status, 202, viaJwt.text);

    const answered = [
      single.json,
      ...(batch.json.results as Record<string, unknown>[]),
      ...(ndjson.json.results as Record<string, unknown>[]),
      viaJwt.json,
    ] as { event_id: string; partition: number; offset: string }[];
    assert.equal(await count('orders'), before + 7);

    const all = await records('orders');
    const byId = new Map(all.map((r) => [String(r.event.event_id), r]));
    answered.forEach((a, i) => {
      const r = byId.get(a.event_id);
      assert.ok(r, `event ${a.event_id} is in Kafka`);
      assert.equal(r.key, `a-${i + 1}`);
      assert.equal(r.event.order_id, `a-${i + 1}`);
      assert.equal(r.partition, a.partition);
      assert.equal(r.offset, a.offset);
    });
    assert.equal(byId.get(answered[2]!.event_id)!.event.status, 'paid');

    const t = await tenants('orders', [answered[0]!.event_id, answered[6]!.event_id]);
    assert.equal(t.get(answered[0]!.event_id), 'acme');
    assert.equal(t.get(answered[6]!.event_id), 'initech');
  });
});

describe('refused: nothing produced', () => {
  test('400, 401, 403, 404, 413, 415 and 422 answer problem+json and leave both topics untouched', async () => {
    const before = await counts();
    const expired = await sign({ sub: 's', tenant: 'acme', scope: 'write:orders', exp: Math.floor(Date.now() / 1000) - 60 }, JWT_SECRET, 'HS256');
    const forged = await sign({ sub: 's', tenant: 'acme', scope: 'write:orders', exp: Math.floor(Date.now() / 1000) + 60 }, 'x'.repeat(40), 'HS256');
    const cases: [string, Promise<Awaited<ReturnType<typeof request>>>, number][] = [
      ['no credential', post('/v1/events/orders', order('r-1')), 401],
      ['unknown API key', post('/v1/events/orders', order('r-1'), { 'x-api-key': newKey() }), 401],
      ['expired JWT', post('/v1/events/orders', order('r-1'), { authorization: `Bearer ${expired}` }), 401],
      ['JWT signed with another secret', post('/v1/events/orders', order('r-1'), { authorization: `Bearer ${forged}` }), 401],
      ['read-only key writing', post('/v1/events/orders', order('r-1'), { 'x-api-key': READER }), 403],
      ['key without write:page_views', post('/v1/events/page_views', view(1), { 'x-api-key': NARROW }), 403],
      ['unknown topic', post('/v1/events/refunds', order('r-1'), { 'x-api-key': WRITER }), 404],
      [
        'text/plain',
        request(gateway.url, '/v1/events/orders', { raw: JSON.stringify(order('r-1')), headers: { 'content-type': 'text/plain', 'x-api-key': WRITER } }),
        415,
      ],
      [
        'malformed JSON',
        request(gateway.url, '/v1/events/orders', { raw: '{"order_id":', headers: { 'content-type': 'application/json', 'x-api-key': WRITER } }),
        400,
      ],
      ['malformed Idempotency-Key', post('/v1/events/orders', order('r-1'), { 'x-api-key': WRITER, 'idempotency-key': 'two words' }), 400],
      ['body over MAX_BODY_BYTES', post('/v1/events/orders', Array.from({ length: 30 }, (_, i) => order(`r-${i}`)), { 'x-api-key': WRITER }), 413],
      ['more than MAX_BATCH_EVENTS', post('/v1/events/page_views', Array.from({ length: 21 }, (_, i) => view(i)), { 'x-api-key': WRITER }), 413],
      ['invalid event', post('/v1/events/orders', order('r-1', { currency: 'eur' }), { 'x-api-key': WRITER }), 422],
      ['one invalid event in a batch', post('/v1/events/orders', [order('r-1'), order('r-2', { status: 'lost' }), order('r-3')], { 'x-api-key': WRITER }), 422],
      ['empty batch', post('/v1/events/orders', [], { 'x-api-key': WRITER }), 422],
      ['tenant in the body', post('/v1/events/orders', order('r-1', { tenant: 'globex' }), { 'x-api-key': WRITER }), 422],
    ];
    for (const [what, pending, status] of cases) assertProblem(await pending, status, what);

    const noCredential = await cases[0]![1];
    assert.equal(noCredential.headers.get('www-authenticate'), 'Bearer realm="ferry"');
    const scope = await cases[5]![1];
    assert.equal(scope.json.required_scope, 'write:page_views');
    const invalid = await cases[13]![1];
    assert.deepEqual(invalid.json.errors, [{ index: 1, field: 'status', reason: 'must be one of created, paid, shipped, cancelled' }]);

    assert.deepEqual(await counts(), before);
  });
});

describe('Idempotency-Key', () => {
  test('a retry replays the first answer; a different body is 422; a retry while the first is in flight is 409; Kafka holds one record', async () => {
    const key = randomUUID();
    const body = order('i-1');
    const before = await count('orders');
    // Prefer: wait keeps the first request in flight (no worker runs here) for 3 s after Kafka's ack.
    const first = post('/v1/events/orders', body, { 'x-api-key': WRITER, 'idempotency-key': key, prefer: 'wait=3' });
    await waitFor(async () => (await count('orders')) === before + 1, { what: 'the first request produced', timeoutMs: 10_000, intervalMs: 50 });

    const concurrent = await post('/v1/events/orders', body, { 'x-api-key': WRITER, 'idempotency-key': key });
    assertProblem(concurrent, 409, 'same key while in flight');
    assert.equal(concurrent.headers.get('retry-after'), '1');
    assertProblem(await post('/v1/events/orders', order('i-2'), { 'x-api-key': WRITER, 'idempotency-key': key }), 422, 'other body while in flight');

    const answered = await first;
    assert.equal(answered.status, 202, answered.text);
    assert.equal(answered.headers.get('idempotent-replayed'), null);

    for (let i = 0; i < 2; i++) {
      const retry = await post('/v1/events/orders', body, { 'x-api-key': WRITER, 'idempotency-key': key });
      assert.equal(retry.status, 202);
      assert.equal(retry.text, answered.text, 'the same body, byte for byte');
      assert.equal(retry.headers.get('idempotent-replayed'), 'true');
    }
    const reused = await post('/v1/events/orders', order('i-1', { status: 'paid' }), { 'x-api-key': WRITER, 'idempotency-key': key });
    assertProblem(reused, 422, 'same key, different body');
    assert.equal(reused.json.title, 'Idempotency-Key reused');

    // Keys are per tenant: another tenant's identical key is a new request.
    const otherTenant = await post('/v1/events/orders', body, { 'x-api-key': NARROW, 'idempotency-key': key });
    assert.equal(otherTenant.status, 202);
    assert.equal(otherTenant.headers.get('idempotent-replayed'), null);

    assert.equal(await count('orders'), before + 2);
    const mine = (await records('orders')).filter((r) => r.event.event_id === answered.json.event_id);
    assert.equal(mine.length, 1, 'exactly one record for the first tenant');
    assert.equal(mine[0]!.event.order_id, 'i-1');
  });
});

describe('Prefer: wait', () => {
  test('200 with the order from the read model once the applied event ids are published on <REDIS_PREFIX>applied', async () => {
    const eventId = randomUUID();
    const before = await count('orders');
    const started = Date.now();
    const pending = post('/v1/events/orders', order('w-1', { event_id: eventId }), { 'x-api-key': WRITER, prefer: 'wait=20' });
    await waitFor(async () => (await count('orders')) === before + 1, { what: 'the event produced', timeoutMs: 10_000, intervalMs: 50 });

    // What a worker does after applying: the read model holds the order, then the ids are announced.
    const doc = { ...order('w-1'), amount_cents: 1999, occurred_at: '2026-11-23T10:00:00.000Z', updated_at: new Date().toISOString(), event_id: eventId };
    await iso.redis.hset(orderKey(iso.env.REDIS_PREFIX!, 'acme', 'w-1'), 'v', '1', 'doc', JSON.stringify(doc));
    // The client chose the id: another tenant's event with it, or one in the older tenant-less
    // shape (the development tenant's), is not this one.
    let settled = false;
    void pending.finally(() => (settled = true));
    await iso.redis.publish(`${iso.env.REDIS_PREFIX}applied`, encodeApplied([{ tenant: 'globex', eventId }]));
    await iso.redis.publish(`${iso.env.REDIS_PREFIX}applied`, JSON.stringify({ event_ids: [eventId] }));
    await sleep(500);
    assert.equal(settled, false, "another tenant's event with the same id did not end the wait");
    await iso.redis.publish(`${iso.env.REDIS_PREFIX}applied`, encodeApplied([{ tenant: 'acme', eventId: randomUUID() }]));
    await iso.redis.publish(`${iso.env.REDIS_PREFIX}applied`, encodeApplied([{ tenant: 'acme', eventId: randomUUID() }, { tenant: 'acme', eventId }]));

    const res = await pending;
    assert.equal(res.status, 200, res.text);
    assert.ok(Date.now() - started < 15_000, 'answered when applied, not when the wait ran out');
    assert.equal(res.headers.get('preference-applied'), 'wait=20');
    assert.equal(res.json.event_id, eventId);
    assert.deepEqual(res.json.applied, [eventId]);
    assert.deepEqual(res.json.order, doc);
    const [record] = (await records('orders')).filter((r) => r.event.event_id === eventId);
    assert.equal(record!.partition, res.json.partition);
  });

  test('202 when nothing is announced before the wait runs out', async () => {
    const started = Date.now();
    const res = await post('/v1/events/page_views', view(7), { 'x-api-key': WRITER, prefer: 'wait=1' });
    assert.equal(res.status, 202, res.text);
    assert.ok(Date.now() - started >= 950);
    assert.equal(res.headers.get('preference-applied'), null);
  });
});

describe('GET /v1/orders/:order_id', () => {
  test('ETag from the event id, 304 for a matching If-None-Match, read:orders required', async () => {
    const doc = { ...order('g-1'), occurred_at: '2026-11-23T10:00:00.000Z', updated_at: '2026-11-23T10:00:01.000Z', event_id: randomUUID() };
    await iso.redis.hset(orderKey(iso.env.REDIS_PREFIX!, 'acme', 'g-1'), 'v', '1', 'doc', JSON.stringify(doc));

    const res = await request(gateway.url, '/v1/orders/g-1', { headers: { 'x-api-key': READER } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, doc);
    const etag = res.headers.get('etag')!;
    assert.equal(etag, `W/"${doc.event_id}"`);

    const notModified = await fetch(`${gateway.url}/v1/orders/g-1`, { headers: { 'x-api-key': READER, 'if-none-match': etag } });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.get('etag'), etag);
    assert.equal(await notModified.text(), '');

    assertProblem(await request(gateway.url, '/v1/orders/g-1', { headers: { 'x-api-key': NARROW } }), 403, 'no read:orders');
    assertProblem(await request(gateway.url, '/v1/orders/g-1'), 401, 'no credential');
    assertProblem(await request(gateway.url, '/v1/orders/nope', { headers: { 'x-api-key': READER } }), 404, 'unknown order');
  });
});

describe('rate limits', () => {
  test('429 with Retry-After once a credential spent its burst; the refused request produces nothing; other credentials unaffected', async () => {
    const before = await count('orders');
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await request(limited.url, '/v1/events/orders', { body: order(`l-${i}`), headers: { 'x-api-key': NARROW } }));
    assert.deepEqual(answers.map((a) => a.status), [202, 202, 429]);
    assertProblem(answers[2]!, 429, 'over the burst');
    assert.ok(Number(answers[2]!.headers.get('retry-after')) >= 1);
    const other = await request(limited.url, '/v1/events/orders', { body: order('l-other'), headers: { 'x-api-key': WRITER } });
    assert.equal(other.status, 202);
    assert.equal(await count('orders'), before + 3);

    // The bucket refills at RATE_LIMIT_PER_SECOND.
    await waitFor(async () => (await request(limited.url, '/v1/events/orders', { body: order('l-later'), headers: { 'x-api-key': NARROW } })).status === 202, {
      what: 'the bucket refilled',
      timeoutMs: 5000,
      intervalMs: 500,
    });
  });
});
