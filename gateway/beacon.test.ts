import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { ConfigError } from '../lib/config.ts';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { createApp, type GatewayOptions } from './app.ts';
import { createAuthenticator } from './auth.ts';
import { parseApiKeys } from '../lib/api-keys.ts';
import { FakeProducer, order } from '../test/fakes.ts';

const registry = loadRegistry();
const codec = new Codec(registry);
const hash = (s: string) => createHash('sha256').update(s).digest('hex');
const SHOP = 'https://shop.example';
const BEACON_KEY = 'fry_web_Xq2m7Lc9Vt4Rb8Nk1Zp6Hs3Jd5Wf0Gy';
const SERVER_KEY = 'fry_srv_Tn5b8Qw2Ke7Yv1Mx4Lr9Pc3Zh6Ud0Sa';
const beaconKey = { id: 'shop-web', tenant: 'acme', sha256: hash(BEACON_KEY), scopes: ['write:page_views'], beacon: true };
const serverKey = { id: 'shop-srv', tenant: 'acme', sha256: hash(SERVER_KEY), scopes: ['write:page_views', 'write:orders'] };
const view = (user = 'u-1') => ({ user_id: user, url: 'https://shop.example/p/1', occurred_at: '2026-12-04T10:00:00Z' });

function setup(options: Partial<GatewayOptions> = {}) {
  const producer = new FakeProducer();
  const app = createApp({
    registry,
    codec,
    producer,
    authenticator: createAuthenticator({ apiKeys: [beaconKey, serverKey] }),
    corsOrigins: [SHOP],
    ...options,
  });
  return { app, producer };
}

/** What navigator.sendBeacon(url, string) sends: text/plain, the page's Origin, no other header. */
function beacon(body: unknown, origin: string | null = SHOP, type = 'text/plain;charset=UTF-8'): RequestInit {
  return { method: 'POST', headers: { 'content-type': type, ...(origin ? { origin } : {}) }, body: typeof body === 'string' ? body : JSON.stringify(body) };
}

async function problemOf(res: Response, status: number): Promise<Record<string, unknown>> {
  assert.equal(res.status, status);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  return (await res.json()) as Record<string, unknown>;
}

describe('POST /v1/beacon/:topic', () => {
  it("takes a beacon key from ?key=, JSON sent as text/plain, and produces under the key's tenant", async () => {
    const { app, producer } = setup();
    const one = await app.request(`/v1/beacon/page_views?key=${BEACON_KEY}`, beacon(view()));
    assert.equal(one.status, 202);
    const many = await app.request(`/v1/beacon/page_views?key=${BEACON_KEY}`, beacon([view('u-2'), view('u-3')]));
    assert.equal(many.status, 202);
    assert.deepEqual(((await many.json()) as { results: { status: string }[] }).results.map((r) => r.status), ['accepted', 'accepted']);
    assert.deepEqual(producer.records.map((r) => codec.decode(r.value).value.user_id), ['u-1', 'u-2', 'u-3']);
    assert.deepEqual(producer.records.map((r) => r.headers?.['ferry-tenant']), ['acme', 'acme', 'acme']);
    // application/json is taken too, for clients that can choose.
    assert.equal((await app.request(`/v1/beacon/page_views?key=${BEACON_KEY}`, beacon(view(), SHOP, 'application/json'))).status, 202);
  });

  it('refuses a key that is missing, unknown, or not listed for beacons, and keys in headers', async () => {
    const { app, producer } = setup();
    assert.match(String((await problemOf(await app.request('/v1/beacon/page_views', beacon(view())), 401)).detail), /\?key=/);
    await problemOf(await app.request('/v1/beacon/page_views?key=nope', beacon(view())), 401);
    const server = await problemOf(await app.request(`/v1/beacon/page_views?key=${SERVER_KEY}`, beacon(view())), 401);
    assert.match(String(server.detail), /may not be sent in a URL/);
    const inHeader = { ...beacon(view()), headers: { 'content-type': 'text/plain', origin: SHOP, 'x-api-key': BEACON_KEY } };
    await problemOf(await app.request('/v1/beacon/page_views', inHeader), 401);
    // ...and the beacon key is no key on the other routes' URLs.
    await problemOf(
      await app.request(`/v1/events/page_views?key=${BEACON_KEY}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(view()),
      }),
      401,
    );
    assert.equal(producer.sent.length, 0);
  });

  it('holds the key to its scopes: 403 for a topic it may not write', async () => {
    const { app, producer } = setup();
    const body = await problemOf(await app.request(`/v1/beacon/orders?key=${BEACON_KEY}`, beacon(order())), 403);
    assert.equal(body.required_scope, 'write:orders');
    assert.equal(producer.sent.length, 0);
  });

  it('takes beacons only from origins in CORS_ORIGINS, checked by the gateway (no browser checks a beacon)', async () => {
    const listed = setup();
    const other = await problemOf(await listed.app.request(`/v1/beacon/page_views?key=${BEACON_KEY}`, beacon(view(), 'https://elsewhere.example')), 403);
    assert.match(String(other.detail), /https:\/\/elsewhere\.example is not listed/);
    await problemOf(await listed.app.request(`/v1/beacon/page_views?key=${BEACON_KEY}`, beacon(view(), null)), 403);
    assert.equal(listed.producer.sent.length, 0);

    const none = setup({ corsOrigins: undefined });
    assert.match(String((await problemOf(await none.app.request(`/v1/beacon/page_views?key=${BEACON_KEY}`, beacon(view())), 403)).detail), /none are listed/);
    assert.equal(none.producer.sent.length, 0);

    const any = setup({ corsOrigins: ['*'] });
    assert.equal((await any.app.request(`/v1/beacon/page_views?key=${BEACON_KEY}`, beacon(view(), 'https://elsewhere.example'))).status, 202);
  });

  it('validates as the events route does: 422 with the field, 415 for other types, nothing produced', async () => {
    const { app, producer } = setup();
    const invalid = await problemOf(await app.request(`/v1/beacon/page_views?key=${BEACON_KEY}`, beacon({ ...view(), url: 7 })), 422);
    assert.deepEqual((invalid.errors as { field: string }[]).map((e) => e.field), ['url']);
    await problemOf(await app.request(`/v1/beacon/page_views?key=${BEACON_KEY}`, beacon('{"user_id":')), 400);
    await problemOf(await app.request(`/v1/beacon/page_views?key=${BEACON_KEY}`, beacon(view(), SHOP, 'application/x-www-form-urlencoded')), 415);
    await problemOf(await app.request(`/v1/beacon/page_views?key=${BEACON_KEY}`, beacon(view(), SHOP, 'application/x-ndjson')), 415);
    await problemOf(await app.request(`/v1/beacon/refunds?key=${BEACON_KEY}`, beacon(view())), 404);
    assert.equal(producer.sent.length, 0);
  });

  it('without authentication (development) takes any beacon from a listed origin, as the other routes do', async () => {
    const { app, producer } = setup({ authenticator: undefined });
    assert.equal((await app.request('/v1/beacon/page_views', beacon(view()))).status, 202);
    assert.equal(producer.records.length, 1);
  });

  it('the events route does not take text/plain: only beacons skip the preflight', async () => {
    const { app, producer } = setup();
    const res = await app.request('/v1/events/page_views', {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'x-api-key': SERVER_KEY },
      body: JSON.stringify(view()),
    });
    await problemOf(res, 415);
    assert.equal(producer.sent.length, 0);
  });
});

describe('parseApiKeys: beacon keys', () => {
  it('reads "beacon": true, and leaves it out when false or absent', () => {
    assert.deepEqual(parseApiKeys(JSON.stringify([beaconKey, serverKey, { ...serverKey, id: 'x', sha256: hash('x'), beacon: false }])), [
      beaconKey,
      serverKey,
      { ...serverKey, id: 'x', sha256: hash('x') },
    ]);
  });

  it('refuses a beacon key with a read scope, and a beacon that is not a boolean', () => {
    for (
      const [value, message] of [
        [
          { ...beaconKey, scopes: ['write:page_views', 'read:orders'] },
          /entry 0 \(shop-web\): a beacon key travels in URLs and web pages; give it write scopes only/,
        ],
        [{ ...beaconKey, beacon: 'yes' }, /entry 0 \(shop-web\): beacon must be true or false/],
      ] as const
    ) {
      assert.throws(
        () => parseApiKeys(JSON.stringify([value])),
        (err: unknown) => err instanceof ConfigError && message.test(err.message),
      );
    }
  });
});
