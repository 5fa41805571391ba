import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { sign } from 'hono/jwt';
import { ConfigError } from '../lib/config.ts';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { createApp } from './app.ts';
import { ANONYMOUS, type AuthResult, createAuthenticator, hasScope } from './auth.ts';
import { parseApiKeys, sha256Hex } from '../lib/api-keys.ts';
import { FakeProducer, FakeReadModel, order, post } from '../test/fakes.ts';

const KEY = 'fry_live_5l8cWbq1mXw3Yk9JzT0aPq2RvN4sUe7H';
const SECRET = 'a-test-secret-of-at-least-32-characters!';
const hash = (s: string) => createHash('sha256').update(s).digest('hex');
const entry = { id: 'shop-web', tenant: 'acme', sha256: hash(KEY), scopes: ['write:orders', 'read:orders'] };
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

const headers = (h: Record<string, string>) => new Headers(h);
const ok = (r: AuthResult) => {
  assert.ok(r.ok, JSON.stringify(r));
  return r.credential;
};

describe('API keys', () => {
  const auth = createAuthenticator({ apiKeys: [entry] })!;

  it('accepts the key in X-API-Key or as a bearer token, with its tenant and scopes', async () => {
    for (const h of [{ 'x-api-key': KEY }, { authorization: `Bearer ${KEY}` }, { authorization: `bearer  ${KEY} ` }] as Record<string, string>[]) {
      const c = ok(await auth.authenticate(headers(h)));
      assert.equal(c.id, 'key:shop-web');
      assert.equal(c.tenant, 'acme');
      assert.equal(c.kind, 'api-key');
      assert.ok(hasScope(c, 'write:orders'));
      assert.ok(!hasScope(c, 'write:page_views'));
    }
  });

  it('refuses a missing, unknown or malformed credential, saying which', async () => {
    assert.deepEqual(await auth.authenticate(headers({})), {
      ok: false,
      reason: 'missing',
      detail: 'send an API key (X-API-Key or Authorization: Bearer) or a bearer token',
    });
    const unknown = await auth.authenticate(headers({ 'x-api-key': `${KEY}x` }));
    assert.equal(unknown.ok, false);
    assert.equal(!unknown.ok && unknown.reason, 'invalid');
    const basic = await auth.authenticate(headers({ authorization: `Basic ${btoa(`u:${KEY}`)}` }));
    assert.equal(!basic.ok && basic.reason, 'invalid');
  });

  it('hashes with SHA-256 as the configuration expects', async () => {
    assert.equal(await sha256Hex(KEY), hash(KEY));
  });

  it('hashes presented keys with the runtime digest when one is given', async () => {
    const seen: string[] = [];
    const withDigest = createAuthenticator({ apiKeys: [entry], sha256: (text) => (seen.push(text), hash(text)) })!;
    assert.equal(ok(await withDigest.authenticate(headers({ 'x-api-key': KEY }))).id, 'key:shop-web');
    assert.equal((await withDigest.authenticate(headers({ 'x-api-key': `${KEY}x` }))).ok, false);
    assert.deepEqual(seen, [KEY, `${KEY}x`]);
  });

  it('is off when nothing is configured', () => {
    assert.equal(createAuthenticator({}), undefined);
    assert.equal(createAuthenticator({ apiKeys: [] }), undefined);
    assert.ok(hasScope(ANONYMOUS, 'write:anything'));
  });
});

describe('JWT (HS256)', () => {
  const auth = createAuthenticator({ jwt: { secret: SECRET } })!;
  const token = (claims: Record<string, unknown>, secret = SECRET) =>
    sign({ sub: 'svc-1', tenant: 'acme', scope: 'write:orders read:orders', exp: inAnHour(), ...claims }, secret, 'HS256');

  it('takes the tenant and scopes from the token', async () => {
    const c = ok(await auth.authenticate(headers({ authorization: `Bearer ${await token({})}` })));
    assert.equal(c.id, 'jwt:acme:svc-1');
    assert.equal(c.tenant, 'acme');
    assert.deepEqual([...c.scopes].sort(), ['read:orders', 'write:orders']);
  });

  it('refuses a wrong signature, an expired token, and tokens missing exp, sub or tenant', async () => {
    const cases: [Record<string, unknown>, string?][] = [
      [{}, 'another-secret-that-is-32-characters-long'],
      [{ exp: Math.floor(Date.now() / 1000) - 10 }],
      [{ exp: undefined }],
      [{ sub: undefined }],
      [{ tenant: undefined }],
      [{ tenant: 'bad tenant/with spaces' }],
    ];
    for (const [claims, secret] of cases) {
      const r = await auth.authenticate(headers({ authorization: `Bearer ${await token(claims, secret)}` }));
      assert.equal(r.ok, false, JSON.stringify(claims));
      assert.equal(!r.ok && r.reason, 'invalid');
    }
    const expired = await auth.authenticate(headers({ authorization: `Bearer ${await token({ exp: 1 })}` }));
    assert.equal(!expired.ok && expired.detail, 'the token has expired');
  });

  it('refuses alg "none" and other algorithms', async () => {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const claims = b64({ sub: 's', tenant: 'acme', scope: 'write:orders', exp: inAnHour() });
    for (const alg of ['none', 'HS512']) {
      const forged = `${b64({ alg, typ: 'JWT' })}.${claims}.`;
      assert.equal((await auth.authenticate(headers({ authorization: `Bearer ${forged}` }))).ok, false, alg);
    }
  });

  it('checks issuer and audience when configured', async () => {
    const strict = createAuthenticator({ jwt: { secret: SECRET, issuer: 'https://id.example', audience: 'ferry' } })!;
    assert.equal((await strict.authenticate(headers({ authorization: `Bearer ${await token({})}` }))).ok, false);
    ok(await strict.authenticate(headers({ authorization: `Bearer ${await token({ iss: 'https://id.example', aud: 'ferry' })}` })));
  });

  it('accepts both kinds when both are configured', async () => {
    const both = createAuthenticator({ apiKeys: [entry], jwt: { secret: SECRET } })!;
    assert.equal(ok(await both.authenticate(headers({ authorization: `Bearer ${KEY}` }))).kind, 'api-key');
    assert.equal(ok(await both.authenticate(headers({ authorization: `Bearer ${await token({})}` }))).kind, 'jwt');
    // A JWT-only gateway does not take API keys.
    assert.equal((await auth.authenticate(headers({ 'x-api-key': KEY }))).ok, false);
  });
});

describe('parseApiKeys', () => {
  const raw = (v: unknown) => JSON.stringify(v);

  it('reads a valid list and treats empty as none', () => {
    assert.deepEqual(parseApiKeys(raw([{ ...entry, sha256: entry.sha256.toUpperCase() }])), [entry]);
    assert.deepEqual(parseApiKeys(undefined), []);
    assert.deepEqual(parseApiKeys('  '), []);
  });

  it('names the problem without echoing the value', () => {
    const bad: [unknown, RegExp][] = [
      ['not json', /must be a JSON array/],
      [{ id: 'x' }, /must be a JSON array/],
      [[{ ...entry, sha256: 'abc' }], /entry 0 \(shop-web\): sha256 must be 64 hex digits/],
      [[{ ...entry, scopes: ['admin'] }], /scopes must be an array/],
      [[{ ...entry, tenant: '' }], /tenant must be/],
      [[entry, { ...entry, sha256: hash('other') }], /id shop-web is used twice/],
      [[entry, { ...entry, id: 'other' }], /same key hash is listed twice/],
    ];
    for (const [value, message] of bad) {
      assert.throws(() => parseApiKeys(typeof value === 'string' ? value : raw(value)), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /^FERRY_API_KEYS: /);
        assert.match(err.message, message);
        assert.ok(!err.message.includes(entry.sha256), 'the hash is not echoed');
        return true;
      });
    }
  });
});

describe('authentication through the app', () => {
  const registry = loadRegistry();
  const codec = new Codec(registry);
  const writer = { id: 'writer', tenant: 'acme', sha256: hash(KEY), scopes: ['write:orders'] };
  const READER = 'fry_reader_Qm3vT8yLp2Wn6Rk1Zc5Xb9Ja4Hd7Gf0S';
  const reader = { id: 'reader', tenant: 'acme', sha256: hash(READER), scopes: ['read:orders'] };

  function setup() {
    const producer = new FakeProducer();
    const readModel = new FakeReadModel();
    const app = createApp({ registry, codec, producer, readModel, authenticator: createAuthenticator({ apiKeys: [writer, reader], jwt: { secret: SECRET } }) });
    return { app, producer, readModel };
  }

  async function problemOf(res: Response, status: number) {
    assert.equal(res.status, status);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    return (await res.json()) as Record<string, unknown>;
  }

  it("a reader sees only its own tenant's orders", async () => {
    const { app, readModel } = setup();
    const view = {
      order_id: 'o-7',
      customer_id: 'c-1',
      status: 'paid',
      amount_cents: 1,
      currency: 'EUR',
      items: [],
      occurred_at: '2026-11-23T10:00:00.000Z',
      updated_at: '2026-11-23T10:00:00.000Z',
      event_id: '0b7e2c1a-3f4d-4a5b-8c6d-7e8f9a0b1c2d',
    };
    readModel.orders.set('globex/o-7', view);
    assert.equal((await app.request('/v1/orders/o-7', { headers: { 'x-api-key': READER } })).status, 404, "acme does not see globex's order");
    readModel.orders.set('acme/o-7', { ...view, status: 'shipped' });
    const res = await app.request('/v1/orders/o-7', { headers: { 'x-api-key': READER } });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { status: string }).status, 'shipped');
  });

  it('401 without or with a bad credential, with a Bearer challenge, before anything else', async () => {
    const { app, producer } = setup();
    const none = await app.request('/v1/events/orders', post(order()));
    await problemOf(none, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="ferry"');
    const bad = await app.request('/v1/events/orders', post(order(), { 'x-api-key': 'nope' }));
    await problemOf(bad, 401);
    assert.equal(bad.headers.get('www-authenticate'), 'Bearer realm="ferry", error="invalid_token"');
    // An unknown topic and a body too large still answer 401 first: nothing is revealed.
    await problemOf(await app.request('/v1/events/refunds', post(order())), 401);
    await problemOf(await app.request('/v1/orders/o-1'), 401);
    assert.equal(producer.sent.length, 0);
  });

  it('403 without the scope, naming it; 404 for an unknown topic once authenticated', async () => {
    const { app, producer } = setup();
    const res = await app.request(
      '/v1/events/page_views',
      post({ user_id: 'u', url: 'https://x.example/', occurred_at: '2026-11-23T11:00:00Z' }, { 'x-api-key': KEY }),
    );
    const body = await problemOf(res, 403);
    assert.equal(body.required_scope, 'write:page_views');
    assert.match(String(res.headers.get('www-authenticate')), /error="insufficient_scope", scope="write:page_views"/);
    await problemOf(await app.request('/v1/orders/o-1', { headers: { 'x-api-key': KEY } }), 403);
    await problemOf(await app.request('/v1/events/orders', post(order(), { 'x-api-key': READER })), 403);
    await problemOf(await app.request('/v1/events/refunds', post(order(), { 'x-api-key': KEY })), 404);
    assert.equal(producer.sent.length, 0);
  });

  it('takes the tenant from the credential into a record header; a tenant in the body is refused', async () => {
    const { app, producer } = setup();
    const jwt = await sign({ sub: 'svc', tenant: 'globex', scope: 'write:orders', exp: inAnHour() }, SECRET, 'HS256');
    assert.equal((await app.request('/v1/events/orders', post(order(), { authorization: `Bearer ${jwt}` }))).status, 202);
    assert.equal((await app.request('/v1/events/orders', post(order(), { 'x-api-key': KEY }))).status, 202);
    assert.deepEqual(producer.records.map((r) => r.headers?.['ferry-tenant']), ['globex', 'acme']);
    const smuggled = await problemOf(await app.request('/v1/events/orders', post(order('o-1', { tenant: 'globex' }), { 'x-api-key': KEY })), 422);
    assert.deepEqual(smuggled.errors, [{ field: 'tenant', reason: 'is not a field of this event' }]);
  });

  it('leaves health, readiness and documentation public', async () => {
    const { app } = setup();
    for (const path of ['/healthz', '/readyz', '/openapi.json', '/docs']) assert.equal((await app.request(path)).status, 200, path);
  });
});
