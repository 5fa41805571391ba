import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { createApp, type GatewayOptions, storable, utf8Length } from './app.ts';
import { createAuthenticator } from './auth.ts';
import { derivedEventIds, readIdempotencyKey } from './idempotency.ts';
import { FakeProducer, MemoryIdempotencyStore, order, post } from '../test/fakes.ts';

const registry = loadRegistry();
const codec = new Codec(registry);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function setup(options: Partial<GatewayOptions> = {}) {
  const producer = (options.producer as FakeProducer | undefined) ?? new FakeProducer();
  const store = (options.idempotency as MemoryIdempotencyStore | undefined) ?? new MemoryIdempotencyStore();
  const app = createApp({ registry, codec, ...options, producer, idempotency: store });
  return { app, producer, store };
}

const send = (app: ReturnType<typeof setup>['app'], body: unknown, key?: string, headers: Record<string, string> = {}) =>
  app.request('/v1/events/orders', post(body, { ...(key ? { 'idempotency-key': key } : {}), ...headers }));

describe('readIdempotencyKey', () => {
  const read = (v?: string) => readIdempotencyKey(new Headers(v === undefined ? {} : { 'idempotency-key': v }));
  it('reads a token or a structured-field string; refuses empty, spaces, non-ASCII and over 255', () => {
    assert.equal(read(), undefined);
    assert.equal(read('8e03978e-40d5-43e8-bc93-6894a57f9324'), '8e03978e-40d5-43e8-bc93-6894a57f9324');
    assert.equal(read('"abc"'), 'abc');
    for (const bad of ['', '""', 'a b', 'cl\u00e9', 'x'.repeat(256)]) assert.equal(read(bad), null, bad);
    assert.equal(read('x'.repeat(255)), 'x'.repeat(255));
  });
});

describe('derivedEventIds', () => {
  it('are stable per (tenant, credential, key, request) and distinct otherwise, and valid UUIDs', async () => {
    const acme = { tenant: 'acme', credential: 'key:a' };
    const a = await derivedEventIds(acme, 'k', 'fp', 3);
    assert.deepEqual(await derivedEventIds(acme, 'k', 'fp', 3), a);
    assert.equal(new Set(a).size, 3);
    for (const id of a) assert.match(id, UUID);
    const others = [
      await derivedEventIds({ tenant: 'other', credential: 'key:a' }, 'k', 'fp', 1),
      await derivedEventIds({ tenant: 'acme', credential: 'key:b' }, 'k', 'fp', 1),
      await derivedEventIds(acme, 'k2', 'fp', 1),
      await derivedEventIds(acme, 'k', 'fp2', 1),
    ];
    for (const other of others) {
      assert.notEqual(other[0], a[0]);
    }
  });
});

describe('Idempotency-Key on POST /v1/events/:topic', () => {
  it('replays the first answer for a retry and produces nothing new', async () => {
    const { app, producer } = setup();
    const first = await send(app, order(), 'k-1');
    assert.equal(first.status, 202);
    const firstBody = await first.text();
    assert.equal(first.headers.get('idempotent-replayed'), null);
    for (let i = 0; i < 3; i++) {
      const again = await send(app, order(), 'k-1');
      assert.equal(again.status, 202);
      assert.equal(await again.text(), firstBody);
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      assert.equal(again.headers.get('content-type'), 'application/json');
    }
    assert.equal(producer.records.length, 1);
  });

  it('derives the event ids from the key, so a produce-again after a lost answer carries the same ids', async () => {
    const a = setup();
    const b = setup();
    const idA = ((await (await send(a.app, order(), 'k-1')).json()) as { event_id: string }).event_id;
    const idB = ((await (await send(b.app, order(), 'k-1')).json()) as { event_id: string }).event_id;
    assert.equal(idA, idB);
    assert.match(idA, UUID);
    assert.equal(codec.decode(a.producer.records[0]!.value).value.event_id, idA);
    // A client-sent event_id wins.
    const own = '9f1c2d3e-4b5a-4c6d-9e8f-0a1b2c3d4e5f';
    assert.equal(((await (await send(a.app, order('o-1', { event_id: own }), 'k-2')).json()) as { event_id: string }).event_id, own);
  });

  it('answers 422 for the same key with a different body, and produces nothing', async () => {
    const { app, producer } = setup();
    assert.equal((await send(app, order('a'), 'k-1')).status, 202);
    const res = await send(app, order('b'), 'k-1');
    assert.equal(res.status, 422);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    assert.equal(((await res.json()) as { title: string }).title, 'Idempotency-Key reused');
    // Another topic with the same key is a different request too.
    const view = { user_id: 'u', url: 'https://shop.example/', occurred_at: '2026-11-23T11:00:00Z' };
    assert.equal((await app.request('/v1/events/page_views', post(view, { 'idempotency-key': 'k-1' }))).status, 422);
    assert.equal(producer.records.length, 1);
  });

  it('answers 409 with Retry-After while the first request is in flight, then replays', async () => {
    const { app, producer } = setup();
    let release!: () => void;
    producer.gate = new Promise((r) => (release = r));
    const first = send(app, order(), 'k-1');
    while (producer.sent.length === 0) await new Promise((r) => setImmediate(r));
    const concurrent = await send(app, order(), 'k-1');
    assert.equal(concurrent.status, 409);
    assert.equal(concurrent.headers.get('retry-after'), '1');
    release();
    assert.equal((await first).status, 202);
    assert.equal((await send(app, order(), 'k-1')).headers.get('idempotent-replayed'), 'true');
    assert.equal(producer.records.length, 1);
  });

  it('scopes keys by tenant', async () => {
    const key = (n: string) => `fry_${n}_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa`;
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    const authenticator = createAuthenticator({
      apiKeys: [
        { id: 'a', tenant: 'acme', sha256: sha(key('a')), scopes: ['write:orders'] },
        { id: 'b', tenant: 'globex', sha256: sha(key('b')), scopes: ['write:orders'] },
      ],
    });
    const { app, producer } = setup({ authenticator });
    const a = await send(app, order(), 'shared', { 'x-api-key': key('a') });
    const b = await send(app, order(), 'shared', { 'x-api-key': key('b') });
    assert.equal(a.status, 202);
    assert.equal(b.status, 202);
    assert.equal(b.headers.get('idempotent-replayed'), null);
    assert.equal(producer.records.length, 2);
    assert.deepEqual(producer.records.map((r) => r.headers?.['ferry-tenant']), ['acme', 'globex']);
  });

  it('scopes keys by credential within a tenant: same key and body from two credentials give two requests, two event ids', async () => {
    const key = (n: string) => `fry_${n}_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa`;
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    const authenticator = createAuthenticator({
      apiKeys: [
        { id: 'a1', tenant: 'acme', sha256: sha(key('a1')), scopes: ['write:orders'] },
        { id: 'a2', tenant: 'acme', sha256: sha(key('a2')), scopes: ['write:orders'] },
      ],
    });
    const { app, producer } = setup({ authenticator });
    const one = await send(app, order(), 'shared', { 'x-api-key': key('a1') });
    const two = await send(app, order(), 'shared', { 'x-api-key': key('a2') });
    const other = await send(app, order('o-2'), 'shared', { 'x-api-key': key('a2') });
    assert.deepEqual([one.status, two.status], [202, 202]);
    assert.equal(two.headers.get('idempotent-replayed'), null);
    assert.equal(other.status, 422, 'the second credential reusing its own key for another body');
    const ids = [await one.json(), await two.json()].map((b) => (b as { event_id: string }).event_id);
    assert.notEqual(ids[0], ids[1]);
    assert.equal(producer.records.length, 2);
  });

  it('keeps a 207 (some produced) but releases the key after a 503 (nothing produced)', async () => {
    let failAll = true;
    const producer = new FakeProducer((i) => failAll || i === 1);
    const { app } = setup({ producer });
    const down = await send(app, [order('a'), order('b')], 'k-1');
    assert.equal(down.status, 503);
    failAll = false;
    const partial = await send(app, [order('a'), order('b')], 'k-1');
    assert.equal(partial.status, 207);
    assert.equal(partial.headers.get('idempotent-replayed'), null, 'ran again after the 503');
    const replay = await send(app, [order('a'), order('b')], 'k-1');
    assert.equal(replay.status, 207);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.equal(producer.sent.length, 2);
  });

  it('does not take the key for a refused request (400, 422) and refuses a malformed key with 400', async () => {
    const { app, store, producer } = setup();
    assert.equal((await send(app, order('a', { currency: 'eur' }), 'k-1')).status, 422);
    assert.equal((await send(app, '{oops', 'k-1')).status, 400);
    assert.equal(store.entries.size, 0);
    assert.equal((await send(app, order(), 'k-1')).status, 202);
    const bad = await send(app, order(), 'has space');
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { title: string }).title, 'Invalid Idempotency-Key');
    assert.equal(producer.records.length, 1);
  });

  it('answers 503 without producing when the store is down, and releases the key when the producer throws', async () => {
    const store = new MemoryIdempotencyStore();
    const { app, producer } = setup({ idempotency: store });
    const begin = store.begin.bind(store);
    store.begin = async () => {
      throw new Error('redis down');
    };
    const res = await send(app, order(), 'k-1');
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.equal(producer.sent.length, 0);
    store.begin = begin;

    producer.send = async () => {
      throw new Error('not connected');
    };
    assert.equal((await send(app, order(), 'k-2')).status, 503);
    assert.equal(store.entries.size, 0, 'the lease was released');
  });

  it('keeps an answer past maxStoredAnswerBytes shortened: counts and ids stay, per-event results go', async () => {
    const { app, store, producer } = setup({ maxStoredAnswerBytes: 1024 });
    const batch = Array.from({ length: 40 }, (_, i) => order(`big-${i}`));
    const first = await send(app, batch, 'big-key');
    assert.equal(first.status, 202);
    assert.equal(((await first.json()) as { results: unknown[] }).results.length, 40, 'the caller gets the whole answer');
    const [entry] = [...store.entries.values()];
    assert.ok(entry!.response!.body.length <= 1024, `${entry!.response!.body.length} bytes kept`);
    const again = await send(app, batch, 'big-key');
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    const replayed = (await again.json()) as Record<string, unknown>;
    assert.equal(replayed.accepted, 40);
    assert.equal(replayed.results, undefined);
    assert.match(String(replayed.detail), /IDEMPOTENCY_MAX_ANSWER_BYTES/);
    assert.equal(producer.records.length, 40, 'the replay produced nothing');
  });

  it('storable: first drops embedded orders, then results; counts bytes as UTF-8', () => {
    assert.equal(storable('{"a":1}', 10), '{"a":1}');
    const withOrders = JSON.stringify({ topic: 'orders', accepted: 1, applied: ['x'], orders: ['é'.repeat(100)] });
    assert.equal(storable(withOrders, 100), JSON.stringify({ topic: 'orders', accepted: 1, applied: ['x'] }));
    assert.equal(utf8Length('é😀a'), 7);
  });

  it('ignores the header when no store is configured', async () => {
    const producer = new FakeProducer();
    const app = createApp({ registry, codec, producer });
    assert.equal((await send(app as never, order(), 'k-1')).status, 202);
    assert.equal((await send(app as never, order(), 'k-1')).status, 202);
    assert.equal(producer.records.length, 2);
  });
});
