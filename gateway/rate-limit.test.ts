import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { createApp } from './app.ts';
import { createAuthenticator } from './auth.ts';
import { FakeProducer, FakeRateLimiter, FakeReadModel, order, post } from '../test/fakes.ts';
import { RedisRateLimiter } from './stores/redis-rate-limiter.ts';
import type { Redis } from 'ioredis';

const registry = loadRegistry();
const codec = new Codec(registry);
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const A = 'fry_a_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const B = 'fry_b_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';

describe('rate limits through the app', () => {
  function setup(budget: number, retryAfterMs?: number) {
    const limiter = new FakeRateLimiter(budget, retryAfterMs);
    const producer = new FakeProducer();
    const authenticator = createAuthenticator({
      apiKeys: [
        { id: 'a', tenant: 't', sha256: sha(A), scopes: ['write:orders', 'read:orders'] },
        { id: 'b', tenant: 't', sha256: sha(B), scopes: ['write:orders'] },
      ],
    });
    const app = createApp({ registry, codec, producer, readModel: new FakeReadModel(), authenticator, rateLimiter: limiter });
    return { app, producer, limiter };
  }

  it('answers 429 with Retry-After in whole seconds once a credential spent its budget, and produces nothing', async () => {
    const { app, producer, limiter } = setup(2, 1500);
    for (let i = 0; i < 2; i++) assert.equal((await app.request('/v1/events/orders', post(order(), { 'x-api-key': A }))).status, 202);
    const limited = await app.request('/v1/events/orders', post(order(), { 'x-api-key': A }));
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '2');
    assert.equal(limited.headers.get('content-type'), 'application/problem+json');
    // GET counts against the same budget.
    assert.equal((await app.request('/v1/orders/o-1', { headers: { 'x-api-key': A } })).status, 429);
    assert.equal(producer.records.length, 2);
    // Budgets are per credential, keyed by its id.
    assert.equal((await app.request('/v1/events/orders', post(order(), { 'x-api-key': B }))).status, 202);
    assert.deepEqual([...limiter.taken.keys()].sort(), ['key:a', 'key:b']);
  });

  it('rounds Retry-After up to at least one second', async () => {
    const { app } = setup(0, 10);
    assert.equal((await app.request('/v1/events/orders', post(order(), { 'x-api-key': A }))).headers.get('retry-after'), '1');
  });

  it('does not charge unauthenticated requests or public routes', async () => {
    const { app, limiter } = setup(0);
    assert.equal((await app.request('/v1/events/orders', post(order()))).status, 401);
    assert.equal((await app.request('/healthz')).status, 200);
    assert.equal(limiter.taken.size, 0);
  });

  it('limits the anonymous caller as one subject when authentication is off', async () => {
    const limiter = new FakeRateLimiter(1);
    const app = createApp({ registry, codec, producer: new FakeProducer(), rateLimiter: limiter });
    assert.equal((await app.request('/v1/events/orders', post(order()))).status, 202);
    assert.equal((await app.request('/v1/events/orders', post(order()))).status, 429);
    assert.deepEqual([...limiter.taken.keys()], ['anonymous']);
  });
});

describe('per-address limits on what needs no credential', () => {
  const authenticator = createAuthenticator({ apiKeys: [{ id: 'a', tenant: 't', sha256: sha(A), scopes: ['write:orders'] }] });
  function setup(budget: number) {
    const addressLimiter = new FakeRateLimiter(budget);
    const rateLimiter = new FakeRateLimiter(1000);
    const app = createApp({
      registry,
      codec,
      producer: new FakeProducer(),
      authenticator,
      rateLimiter,
      addressLimiter,
      clientAddress: (c) => c.req.header('x-test-address'),
      observe: { metrics: (c) => c.text('m 1') },
    });
    return { app, addressLimiter, rateLimiter };
  }
  const from = (address: string, headers: Record<string, string> = {}) => ({ headers: { 'x-test-address': address, ...headers } });

  it('charges /readyz, /metrics, /docs, /openapi.json and unknown routes to the address, never /healthz', async () => {
    const { app, addressLimiter } = setup(4);
    for (const path of ['/readyz', '/metrics', '/docs', '/openapi.json']) assert.notEqual((await app.request(path, from('10.0.0.1'))).status, 429, path);
    const limited = await app.request('/nothing-here', from('10.0.0.1'));
    assert.equal(limited.status, 429);
    assert.match(limited.headers.get('retry-after') ?? '', /^\d+$/);
    assert.equal((await app.request('/readyz', from('10.0.0.2'))).status, 200, 'another address has its own budget');
    for (let i = 0; i < 5; i++) assert.equal((await app.request('/healthz', from('10.0.0.1'))).status, 200);
    assert.deepEqual([...addressLimiter.taken.keys()].sort(), ['addr:10.0.0.1', 'addr:10.0.0.2']);
  });

  it('charges refused credentials to the address (429 once spent), and authenticated calls to the credential only', async () => {
    const { app, addressLimiter, rateLimiter } = setup(2);
    for (let i = 0; i < 2; i++) {
      assert.equal(
        (await app.request('/v1/events/orders', { ...post(order(), { 'x-api-key': 'fry_wrong_guess_0000000000000000000', 'x-test-address': '10.0.0.3' }) }))
          .status,
        401,
      );
    }
    assert.equal(
      (await app.request('/v1/events/orders', post(order(), { 'x-api-key': 'fry_wrong_guess_0000000000000000000', 'x-test-address': '10.0.0.3' }))).status,
      429,
    );
    for (let i = 0; i < 3; i++) {
      assert.equal((await app.request('/v1/events/orders', post(order(), { 'x-api-key': A, 'x-test-address': '10.0.0.3' }))).status, 202);
    }
    assert.equal(addressLimiter.taken.get('addr:10.0.0.3'), 3);
    assert.equal(rateLimiter.taken.get('key:a'), 3);
  });

  it('answers 503 with Retry-After when a limiter that fails closed is down', async () => {
    const down = {
      async take() {
        return { allowed: false as const, unavailable: true as const };
      },
    };
    const app = createApp({ registry, codec, producer: new FakeProducer(), rateLimiter: down, addressLimiter: down });
    for (const path of ['/readyz', '/v1/orders/o-1']) {
      const res = await app.request(path);
      assert.equal(res.status, 503, path);
      assert.equal(res.headers.get('retry-after'), '1');
    }
    assert.equal((await app.request('/healthz')).status, 200);
  });
});

describe('RedisRateLimiter when Redis is down', () => {
  const broken = {
    ferryRateTake: async () => {
      throw new Error('connect ECONNREFUSED');
    },
  } as unknown as Redis;
  it('allows when it fails open, refuses as unavailable when it fails closed', async () => {
    assert.deepEqual(await new RedisRateLimiter(broken, { perSecond: 1, prefix: 'p:' }).take('s'), { allowed: true });
    assert.deepEqual(await new RedisRateLimiter(broken, { perSecond: 1, prefix: 'p:', onRedisDown: 'closed' }).take('s'), {
      allowed: false,
      unavailable: true,
    });
  });
});

describe('GET /readyz', () => {
  it('checks Kafka and the read model at most once per readyCacheMs, however many probes come', async () => {
    const producer = new FakeProducer();
    let checks = 0;
    producer.ready = async () => {
      checks++;
      await new Promise((r) => setTimeout(r, 20));
      return true;
    };
    const app = createApp({ registry, codec, producer, readModel: new FakeReadModel(), readyCacheMs: 200 });
    const answers = await Promise.all(Array.from({ length: 50 }, () => app.request('/readyz')));
    assert.ok(answers.every((r) => r.status === 200));
    assert.equal(checks, 1);
    await new Promise((r) => setTimeout(r, 250));
    await app.request('/readyz');
    assert.equal(checks, 2);
  });
});
