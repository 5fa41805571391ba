/**
 * The gateway's Redis stores against the real cache Redis, with several connections standing in
 * for several gateway hosts: idempotency leases under races, the GCRA rate limiter's budget,
 * and the applied-events subscription.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { AppliedEvents } from '../gateway/applied-events.ts';
import { RedisAppliedSubscriber } from '../gateway/stores/redis-applied-subscriber.ts';
import { RedisIdempotencyStore } from '../gateway/stores/redis-idempotency-store.ts';
import { RedisRateLimiter } from '../gateway/stores/redis-rate-limiter.ts';
import { waitFor } from './helpers.ts';
import { newIsolationId } from '../support/stale-isolations.ts';

const URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const prefix = `ferry:${newIsolationId()}:`;
const hosts = [new Redis(URL), new Redis(URL), new Redis(URL)];
const response = { status: 202, body: '{"event_id":"e"}', headers: { 'content-type': 'application/json' } };

after(async () => {
  const keys = await hosts[0]!.keys(`${prefix}*`);
  if (keys.length) await hosts[0]!.del(...keys);
  for (const h of hosts) h.disconnect();
});

describe('RedisIdempotencyStore', () => {
  const stores = hosts.map((h) => new RedisIdempotencyStore(h, prefix));
  const acme = { tenant: 'acme', credential: 'key:acme-1' };
  const globex = { tenant: 'globex', credential: 'key:globex-1' };

  test('of many hosts racing on one key exactly one takes the lease; the rest see it in flight, then the stored answer', async () => {
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => stores[i % 3]!.begin(acme, 'race', 'fp', 60_000)));
    const acquired = results.filter((r) => r.state === 'acquired');
    assert.equal(acquired.length, 1);
    assert.ok(results.filter((r) => r.state !== 'acquired').every((r) => r.state === 'in-flight'));
    await stores[1]!.complete(acme, 'race', (acquired[0] as { lease: string }).lease, response, 60_000);
    for (const s of stores) assert.deepEqual(await s.begin(acme, 'race', 'fp', 60_000), { state: 'done', response });
    assert.deepEqual(await stores[2]!.begin(acme, 'race', 'other-fp', 60_000), { state: 'mismatch' });
    assert.equal((await stores[0]!.begin(globex, 'race', 'fp', 60_000)).state, 'acquired', 'keys are per tenant');
    assert.equal((await stores[0]!.begin({ tenant: 'acme', credential: 'key:acme-2' }, 'race', 'other-fp', 60_000)).state, 'acquired', 'and per credential');
    const ttl = await hosts[0]!.pttl((await hosts[0]!.keys(`${prefix}idempotency:acme:*`))[0]!);
    assert.ok(ttl > 50_000 && ttl <= 60_000, `the answer is kept for the TTL, ${ttl}`);
  });

  test('only the lease holder completes or releases; an expired lease lets the next request run', async () => {
    const first = await stores[0]!.begin(acme, 'lease', 'fp', 300);
    assert.equal(first.state, 'acquired');
    await stores[1]!.release(acme, 'lease', 'not-the-lease');
    assert.equal((await stores[1]!.begin(acme, 'lease', 'fp', 300)).state, 'in-flight');

    await waitFor(async () => (await stores[1]!.begin(acme, 'lease', 'fp', 60_000)).state === 'acquired', {
      what: 'the lease expired',
      timeoutMs: 5000,
      intervalMs: 100,
    });
    // The first holder comes back late: its answer must not overwrite the new holder's key.
    await stores[0]!.complete(acme, 'lease', (first as { lease: string }).lease, response, 60_000);
    assert.equal((await stores[2]!.begin(acme, 'lease', 'fp', 60_000)).state, 'in-flight');
  });

  test('release frees the key for a retry', async () => {
    const r = await stores[0]!.begin(acme, 'free', 'fp', 60_000);
    await stores[0]!.release(acme, 'free', (r as { lease: string }).lease);
    assert.equal((await stores[1]!.begin(acme, 'free', 'fp', 60_000)).state, 'acquired');
  });
});

describe('RedisRateLimiter', () => {
  test('hosts share one budget per subject: the burst at once, then the rate', async () => {
    const limiters = hosts.map((h) => new RedisRateLimiter(h, { perSecond: 10, burst: 5, prefix }));
    const first = await Promise.all(Array.from({ length: 30 }, (_, i) => limiters[i % 3]!.take('key:a')));
    assert.equal(first.filter((d) => d.allowed).length, 5, 'exactly the burst');
    const refused = first.find((d) => !d.allowed) as { retryAfterMs: number };
    assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 100, `retry after one interval, got ${refused.retryAfterMs} ms`);
    assert.ok((await limiters[0]!.take('key:b')).allowed, 'another subject has its own budget');

    // At 10/s, about 5 more within the next ~500 ms: one every 100 ms.
    const started = Date.now();
    let allowed = 0;
    while (Date.now() - started < 520) {
      if ((await limiters[allowed % 3]!.take('key:a')).allowed) allowed++;
      await new Promise((r) => setTimeout(r, 20));
    }
    // Loose bounds for a busy machine; unlimited would allow ~25, a wrong rate 0-1 or 10+.
    assert.ok(allowed >= 3 && allowed <= 7, `about 5 allowed in 0.5 s at 10/s, got ${allowed}`);
  });

  test('fails open when Redis is unreachable', async () => {
    const down = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    const warnings: string[] = [];
    const logger = { warn: (_o: unknown, msg: string) => warnings.push(msg) } as unknown as ConstructorParameters<typeof RedisRateLimiter>[1]['logger'];
    const limiter = new RedisRateLimiter(down, { perSecond: 1, burst: 1, prefix, logger });
    for (let i = 0; i < 3; i++) assert.deepEqual(await limiter.take('key:a'), { allowed: true });
    assert.equal(warnings.length, 1, 'warned once, not per request');
    down.disconnect();
  });
});

describe('RedisAppliedSubscriber', () => {
  let applied: AppliedEvents;
  let subscriber: RedisAppliedSubscriber;
  before(async () => {
    applied = new AppliedEvents();
    subscriber = new RedisAppliedSubscriber(URL, prefix, applied);
    await subscriber.start();
  });
  after(() => subscriber.close());

  test('resolves a waiter when a worker publishes its (tenant, id) pairs on <prefix>applied, and ignores other deployments and tenants', async () => {
    const watch = applied.watch('acme', ['e-1', 'e-2']);
    const waiting = watch.wait(10_000);
    await hosts[0]!.publish('ferry:some-other-deployment:applied', JSON.stringify({ event_ids: ['e-1', 'e-2'], tenants: ['acme', 'acme'] }));
    await hosts[0]!.publish(`${prefix}applied`, JSON.stringify({ event_ids: ['e-1', 'e-2'], tenants: ['acme', 'globex'] }));
    await hosts[0]!.publish(`${prefix}applied`, 'garbage');
    // Messages from one connection arrive in order: once the marker is through, so are those before it.
    const marker = applied.watch('acme', ['marker']).wait(10_000);
    await hosts[0]!.publish(`${prefix}applied`, JSON.stringify({ event_ids: ['marker'], tenants: ['acme'] }));
    assert.equal(await marker, true);
    assert.equal(applied.watching, 1, "e-2 still awaited: globex's e-2 is another event");
    await hosts[1]!.publish(`${prefix}applied`, JSON.stringify({ event_ids: ['x', 'e-2'], tenants: ['acme', 'acme'] }));
    assert.equal(await waiting, true);
    assert.equal(applied.watching, 0);
  });
});
