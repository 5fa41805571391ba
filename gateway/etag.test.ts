import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { createApp } from './app.ts';
import { etagMatches } from './etag.ts';
import { FakeProducer, FakeReadModel } from '../test/fakes.ts';

describe('etagMatches (weak comparison)', () => {
  it('matches *, the tag in a list, weak or strong', () => {
    const tag = 'W/"e-1"';
    assert.equal(etagMatches(undefined, tag), false);
    assert.equal(etagMatches('', tag), false);
    assert.equal(etagMatches('*', tag), true);
    assert.equal(etagMatches('W/"e-1"', tag), true);
    assert.equal(etagMatches('"e-1"', tag), true);
    assert.equal(etagMatches('"x", W/"e-1" , "y"', tag), true);
    assert.equal(etagMatches('"e-2"', tag), false);
    assert.equal(etagMatches('e-1', tag), false);
  });
});

describe('GET /v1/orders/:order_id conditional', () => {
  const registry = loadRegistry();
  const readModel = new FakeReadModel();
  const view = {
    order_id: 'o-1',
    customer_id: 'c',
    status: 'paid',
    amount_cents: 1,
    currency: 'EUR',
    items: [],
    occurred_at: '2026-11-23T11:00:00.000Z',
    updated_at: '2026-11-23T11:00:01.000Z',
    event_id: '0b7e2c1a-3f4d-4a5b-8c6d-7e8f9a0b1c2d',
  };
  readModel.orders.set('default/o-1', view);
  const app = createApp({ registry, codec: new Codec(registry), producer: new FakeProducer(), readModel });

  it('sends a weak ETag from the event id, and 304 without a body while it matches', async () => {
    const res = await app.request('/v1/orders/o-1');
    assert.equal(res.status, 200);
    const etag = res.headers.get('etag')!;
    assert.equal(etag, `W/"${view.event_id}"`);
    assert.equal(res.headers.get('cache-control'), 'private, no-cache');
    assert.deepEqual(await res.json(), view);

    const again = await app.request('/v1/orders/o-1', { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.headers.get('etag'), etag);
    assert.equal(await again.text(), '');

    // A newer version (another event) no longer matches.
    readModel.orders.set('default/o-1', { ...view, status: 'shipped', event_id: '9f1c2d3e-4b5a-4c6d-9e8f-0a1b2c3d4e5f' });
    const changed = await app.request('/v1/orders/o-1', { headers: { 'if-none-match': etag } });
    assert.equal(changed.status, 200);
    assert.equal(((await changed.json()) as { status: string }).status, 'shipped');
  });

  it('still answers 404 for an unknown order with If-None-Match: *', async () => {
    assert.equal((await app.request('/v1/orders/nope', { headers: { 'if-none-match': '*' } })).status, 404);
  });
});

describe('GET /v1/orders/:order_id when the read model is unreachable', () => {
  it('answers 503 with Retry-After and a problem body, not a 500', async () => {
    const registry = loadRegistry();
    const readModel = new FakeReadModel();
    readModel.failWith = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const app = createApp({ registry, codec: new Codec(registry), producer: new FakeProducer(), readModel });
    const res = await app.request('/v1/orders/o-1');
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
    const body = (await res.json()) as { title: string; detail: string };
    assert.equal(body.title, 'Read model unavailable');
    assert.doesNotMatch(body.detail, /5432|ECONNREFUSED/, 'no internals in the answer');
    readModel.failWith = undefined;
    assert.equal((await app.request('/v1/orders/o-1')).status, 404, 'back when the store is');
  });
});
