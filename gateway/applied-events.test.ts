import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { createApp } from './app.ts';
import { AppliedEvents } from './applied-events.ts';
import { createAuthenticator } from './auth.ts';
import { sha256Hex } from '../lib/api-keys.ts';
import { preferredWait } from './prefer.ts';
import type { Delivery, OutgoingRecord } from '../lib/kafka/event-producer.ts';
import { DEFAULT_TENANT, encodeApplied, TENANT_HEADER } from '../lib/contract.ts';
import { FakeProducer, FakeReadModel, order, post } from '../test/fakes.ts';

const registry = loadRegistry();
const codec = new Codec(registry);

const ev = (eventId: string, tenant = 'acme') => ({ tenant, eventId });
const msg = (...events: { tenant: string; eventId: string }[]) => encodeApplied(events);

describe('AppliedEvents', () => {
  it('resolves a watch once every id was applied, in any order and across messages', async () => {
    const applied = new AppliedEvents();
    const watch = applied.watch('acme', ['a', 'b', 'c']);
    assert.equal(applied.watching, 3);
    applied.deliver([ev('b'), ev('x')]);
    applied.deliverMessage(msg(ev('c')));
    const waiting = watch.wait(5000);
    applied.deliverMessage(msg(ev('a')));
    assert.equal(await waiting, true);
    assert.equal(applied.watching, 0);
  });

  it("is not resolved by another tenant's event with the same id", async () => {
    const applied = new AppliedEvents();
    const acme = applied.watch('acme', ['a']).wait(5000);
    const globex = applied.watch('globex', ['a']).wait(50);
    applied.deliverMessage(msg(ev('a', 'acme')));
    assert.equal(await acme, true);
    assert.equal(await globex, false);
    // Nor by a pair whose tenant and id join to the same text.
    const other = applied.watch('a', ['b/c']).wait(50);
    applied.deliver([ev('c', 'a/b')]);
    assert.equal(await other, false);
  });

  it("counts ids of the older, tenant-less announcement as the development tenant's", async () => {
    const applied = new AppliedEvents();
    const dev = applied.watch(DEFAULT_TENANT, ['a']).wait(5000);
    const acme = applied.watch('acme', ['a']).wait(50);
    applied.deliverMessage('{"event_ids":["a"]}');
    assert.deepEqual(await Promise.all([dev, acme]), [true, false]);
  });

  it('times out with false, and cleans up', async () => {
    const applied = new AppliedEvents();
    const watch = applied.watch('acme', ['a', 'b']);
    applied.deliver([ev('a')]);
    const started = Date.now();
    assert.equal(await watch.wait(50), false);
    assert.ok(Date.now() - started >= 45);
    assert.equal(applied.watching, 0);
  });

  it('gives up when the client goes away, and on cancel', async () => {
    const applied = new AppliedEvents();
    const controller = new AbortController();
    const waiting = applied.watch('acme', ['a']).wait(60_000, controller.signal);
    controller.abort();
    assert.equal(await waiting, false);
    const watch = applied.watch('acme', ['b']);
    watch.cancel();
    watch.cancel();
    assert.equal(applied.watching, 0);
  });

  it('resolves two requests waiting on the same id, and ignores malformed messages', async () => {
    const applied = new AppliedEvents();
    const one = applied.watch('acme', ['a']).wait(5000);
    const two = applied.watch('acme', ['a']).wait(5000);
    const garbage = [
      'not json',
      'null',
      '{"event_ids":"a"}',
      '{"ids":["a"]}',
      '{"event_ids":[1,null],"tenants":["acme","acme"]}',
      '{"event_ids":["a"],"tenants":["acme","x"]}',
      '{"event_ids":["a"],"tenants":"acme"}',
    ];
    for (const message of garbage) applied.deliverMessage(message);
    assert.equal(applied.watching, 1);
    applied.deliverMessage(msg(ev('a')));
    assert.deepEqual(await Promise.all([one, two]), [true, true]);
  });
});

describe('preferredWait (RFC 7240)', () => {
  const wait = (prefer?: string, max = 30) => preferredWait(new Headers(prefer === undefined ? {} : { prefer }), max);
  it('reads wait=N among other preferences, capped, case-insensitive', () => {
    assert.equal(wait(), undefined);
    assert.equal(wait('wait=5'), 5);
    assert.equal(wait('respond-async, WAIT=7'), 7);
    assert.equal(wait('return=minimal; foo=bar, wait="4"'), 4);
    assert.equal(wait('wait=100'), 30);
    assert.equal(wait('wait=0'), undefined);
    assert.equal(wait('wait=-1'), undefined);
    assert.equal(wait('wait=soon'), undefined);
    assert.equal(wait('handling=lenient'), undefined);
  });
});

/** A producer whose records a "worker" applies `delayMs` after the ack. */
class ApplyingProducer extends FakeProducer {
  constructor(readonly applied: AppliedEvents, readonly delayMs = 5, fails?: (i: number) => boolean) {
    super(fails);
  }
  override async send(records: OutgoingRecord[]): Promise<Delivery[]> {
    const deliveries = await super.send(records);
    const events = records
      .filter((_, i) => deliveries[i]!.ok)
      .map((r) => ({ tenant: r.headers?.[TENANT_HEADER] ?? DEFAULT_TENANT, eventId: String(codec.decode(r.value).value.event_id) }));
    setTimeout(() => this.applied.deliver(events), this.delayMs);
    return deliveries;
  }
}

const stored = (id: string, status = 'paid') => ({
  order_id: id,
  customer_id: 'c-1',
  status,
  amount_cents: 2500,
  currency: 'EUR',
  items: [],
  occurred_at: '2026-11-23T11:00:00.000Z',
  updated_at: '2026-11-23T11:00:01.000Z',
  event_id: '00000000-0000-4000-8000-000000000001',
});

describe('POST with Prefer: wait', () => {
  function setup(options: { delayMs?: number; fails?: (i: number) => boolean; maxWaitSeconds?: number; maxWaitAnswerBytes?: number } = {}) {
    const applied = new AppliedEvents();
    const producer = new ApplyingProducer(applied, options.delayMs, options.fails);
    const readModel = new FakeReadModel();
    const app = createApp({
      registry,
      codec,
      producer,
      readModel,
      applied,
      maxWaitSeconds: options.maxWaitSeconds ?? 30,
      ...(options.maxWaitAnswerBytes ? { maxWaitAnswerBytes: options.maxWaitAnswerBytes } : {}),
    });
    return { app, producer, readModel, applied };
  }

  it('answers 200 with the order from the read model once applied, and Preference-Applied', async () => {
    const { app, readModel } = setup();
    readModel.orders.set('default/o-1', stored('o-1'));
    const res = await app.request('/v1/events/orders', post(order(), { prefer: 'wait=5' }));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('preference-applied'), 'wait=5');
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.topic, 'orders');
    assert.deepEqual(body.applied, [body.event_id]);
    assert.deepEqual(body.order, stored('o-1'));
    assert.equal(typeof body.partition, 'number');
  });

  it('answers a batch with every applied id and each distinct order', async () => {
    const { app, readModel } = setup();
    readModel.orders.set('default/a', stored('a'));
    const res = await app.request('/v1/events/orders', post([order('a'), order('b'), order('a', { status: 'shipped' })], { prefer: 'wait=5' }));
    assert.equal(res.status, 200);
    const body = (await res.json()) as { applied: string[]; orders: unknown[]; results: { event_id: string }[]; accepted: number };
    assert.equal(body.accepted, 3);
    assert.deepEqual(body.applied, body.results.map((r) => r.event_id));
    assert.deepEqual(body.orders, [stored('a'), null]);
  });

  it('leaves out the orders when the answer would pass maxWaitAnswerBytes, and still says what was applied', async () => {
    const { app, readModel } = setup({ maxWaitAnswerBytes: 2048 });
    const big = { ...stored('a'), items: Array.from({ length: 50 }, (_, i) => ({ sku: `sku-${i}`, quantity: 1, price_cents: 100 })) };
    readModel.orders.set('default/a', big);
    readModel.orders.set('default/b', big);
    const res = await app.request('/v1/events/orders', post([order('a'), order('b')], { prefer: 'wait=5' }));
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(text.length <= 2048, `${text.length} bytes`);
    const body = JSON.parse(text) as { applied: string[]; orders?: unknown; accepted: number };
    assert.equal(body.orders, undefined);
    assert.equal(body.applied.length, 2);
    assert.equal(body.accepted, 2);

    readModel.orders.set('default/s', stored('s'));
    const small = (await (await app.request('/v1/events/orders', post(order('s'), { prefer: 'wait=5' }))).json()) as { order: unknown };
    assert.deepEqual(small.order, stored('s'), 'an answer under the bound keeps its order');
  });

  it('answers page views with the applied ids', async () => {
    const { app } = setup();
    const view = { user_id: 'u-1', url: 'https://shop.example/', occurred_at: '2026-11-23T11:00:00Z' };
    const res = await app.request('/v1/events/page_views', post(view, { prefer: 'wait=5' }));
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(body.applied, [body.event_id]);
    assert.equal(body.order, undefined);
  });

  it('answers the usual 202 when the wait runs out, and caps the wait', async () => {
    const { app, applied } = setup({ delayMs: 60_000, maxWaitSeconds: 1 });
    const started = Date.now();
    const res = await app.request('/v1/events/orders', post(order(), { prefer: 'wait=20' }));
    const took = Date.now() - started;
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('preference-applied'), null);
    assert.ok(took >= 950 && took < 5000, `waited ${took} ms, capped at 1 s`);
    assert.equal(applied.watching, 0);
  });

  it('does not wait after a 207 or a 503', async () => {
    const partial = setup({ delayMs: 60_000, fails: (i) => i === 0 });
    assert.equal((await partial.app.request('/v1/events/orders', post([order('a'), order('b')], { prefer: 'wait=20' }))).status, 207);
    const down = setup({ delayMs: 60_000, fails: () => true });
    assert.equal((await down.app.request('/v1/events/orders', post(order(), { prefer: 'wait=20' }))).status, 503);
    assert.equal(partial.applied.watching + down.applied.watching, 0);
  });

  it('gives the order back only to a credential holding read:orders', async () => {
    const applied = new AppliedEvents();
    const readModel = new FakeReadModel();
    readModel.orders.set('acme/o-1', stored('o-1'));
    const apiKeys = [
      { id: 'writer', tenant: 'acme', sha256: await sha256Hex('fry_writer'), scopes: ['write:orders'] },
      { id: 'beacon', tenant: 'acme', sha256: await sha256Hex('fry_beacon'), scopes: ['write:orders'], beacon: true },
      { id: 'reader', tenant: 'acme', sha256: await sha256Hex('fry_reader'), scopes: ['write:orders', 'read:orders'] },
    ];
    const app = createApp({
      registry,
      codec,
      producer: new ApplyingProducer(applied),
      readModel,
      applied,
      authenticator: createAuthenticator({ apiKeys }),
      corsOrigins: ['*'],
    });
    const send = async (path: string, key?: string) => {
      const res = await app.request(path, post(order(), { prefer: 'wait=5', ...(key ? { 'x-api-key': key } : {}) }));
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    for (const [path, key] of [['/v1/events/orders', 'fry_writer'], ['/v1/beacon/orders?key=fry_beacon', undefined]] as const) {
      const { status, body } = await send(path, key);
      assert.equal(status, 200, path);
      assert.deepEqual(body.applied, [body.event_id]);
      assert.equal('order' in body, false, `${path}: no order without read:orders`);
    }
    const reader = await send('/v1/events/orders', 'fry_reader');
    assert.equal(reader.status, 200);
    assert.deepEqual(reader.body.order, stored('o-1'));
  });

  it('ignores the preference without an applied-events source', async () => {
    const app = createApp({ registry, codec, producer: new FakeProducer() });
    const res = await app.request('/v1/events/orders', post(order(), { prefer: 'wait=5' }));
    assert.equal(res.status, 202);
  });
});
