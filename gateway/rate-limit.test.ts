import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { createApp } from './app.ts';
import { createAuthenticator } from './auth.ts';
import { FakeProducer, FakeRateLimiter, FakeReadModel, order, post } from '../test/fakes.ts';

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
