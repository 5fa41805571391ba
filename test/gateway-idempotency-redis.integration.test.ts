/**
 * IDEMPOTENCY_REDIS_URL through the Node gateway: Idempotency-Key leases and answers go to the
 * Redis it names (here the queue Redis, which never evicts), not to the cache Redis, and a retry
 * is answered from there.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { isolate, type Isolated, orderEvent, postJson, type Proc, startGateway } from './helpers.ts';

let iso: Isolated;
let gateway: { proc: Proc; url: string };
let durable: Redis;

before(async () => {
  iso = await isolate();
  durable = new Redis(iso.env.QUEUE_REDIS_URL!);
  gateway = await startGateway({ ...iso.env, IDEMPOTENCY_REDIS_URL: iso.env.QUEUE_REDIS_URL! });
});

after(async () => {
  await gateway?.proc.stop();
  const keys = await durable.keys(`${iso.env.REDIS_PREFIX}*`);
  if (keys.length > 0) await durable.del(...keys);
  durable?.disconnect();
  await iso?.cleanup();
});

test('an Idempotency-Key answer is stored in the IDEMPOTENCY_REDIS_URL Redis and replayed from it', async () => {
  const post = () =>
    postJson(`${gateway.url}/v1/events/orders`, orderEvent('idem-redis-1', 'created', '2026-11-25T10:00:00Z'), { 'idempotency-key': 'idem-redis-1' });
  const first = await post();
  assert.equal(first.status, 202);
  const body = first.text;

  const pattern = `${iso.env.REDIS_PREFIX}idempotency:*`;
  assert.equal((await durable.keys(pattern)).length, 1, 'the answer is in the queue Redis');
  assert.equal((await iso.redis.keys(pattern)).length, 0, 'and not in the cache Redis');

  const again = await post();
  assert.equal(again.status, 202);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  assert.equal(again.text, body, 'the same answer, with the same event id');
});
