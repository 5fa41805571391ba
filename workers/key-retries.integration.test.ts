/**
 * KeyRetries against the real queue Redis: which records park, answered per batch from the set
 * of blocked lists and the retry jobs, including lists made by a worker that kept no set.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RawMessage } from '../lib/kafka/consumer.ts';
import { createLogger } from '../lib/logger.ts';
import { DeadLetters } from '../lib/queues/dead-letters.ts';
import { connectQueueRedis } from '../lib/queues/redis.ts';
import { isolate, type Isolated, waitFor } from '../test/helpers.ts';
import { KeyRetries, toParked } from './key-retries.ts';

let iso: Isolated;
let redis: ReturnType<typeof connectQueueRedis>;
let deadLetters: DeadLetters;
const open: KeyRetries[] = [];
let queues = 0;

before(async () => {
  iso = await isolate();
  redis = connectQueueRedis(iso.env.QUEUE_REDIS_URL!);
  deadLetters = new DeadLetters(redis, `${iso.env.FERRY_TOPIC_PREFIX}ferry-dead-letters`);
});

after(async () => {
  for (const r of open) await r.close();
  await deadLetters?.close();
  redis?.disconnect();
  await iso?.cleanup();
});

/** A KeyRetries on a queue of its own; not started (no job runs) unless a test starts it. */
function retries(name = `${iso.env.FERRY_TOPIC_PREFIX}ferry-retries-${++queues}`, backoffMs = 60_000, trustClearMs?: number): KeyRetries {
  const r = new KeyRetries({ connection: redis, name, deadLetters, logger: createLogger('test', 'silent'), backoffMs, trustClearMs });
  open.push(r);
  return r;
}

let offset = 0;
const record = (key: string): RawMessage => ({
  topic: iso.topic('orders'),
  partition: 0,
  offset: String(++offset),
  key: Buffer.from(key),
  value: Buffer.from([0, 0, 0, 0, 1]),
  headers: { 'ferry-tenant': 'acme' },
});
const keysOf = (records: RawMessage[]) => records.map((r) => r.key!.toString());

test('nothing blocked: the batch is returned as it is', async () => {
  const r = retries();
  const batch = [record('a'), record('b')];
  assert.equal(await r.parkBlocked(batch), batch);
});

test('a blocked key parks its later records, other keys go on; the set names the list while it exists', async () => {
  const r = retries();
  const failed = record('k1');
  await r.block(failed, new Error('boom'));
  assert.deepEqual(await redis.smembers(`${r.options.name}:blocked`), [r.listKey(failed)]);
  const later = [record('k1'), record('k2'), record('k1')];
  assert.deepEqual(keysOf(await r.parkBlocked(later)), ['k2']);
  assert.equal(await redis.llen(r.listKey(failed)), 3);
  // Even with no retry job left, the list keeps the key blocked (a job that failed for good).
  await r.queue.obliterate({ force: true });
  assert.deepEqual(keysOf(await r.parkBlocked([record('k1'), record('k3')])), ['k3']);
});

test('once its retry applied every parked record, the key is free and leaves the set', async () => {
  const r = retries(undefined, 10);
  const applied: string[] = [];
  r.start(async (records) => {
    for (const p of records) applied.push(p.offset);
  });
  const failed = record('k4');
  await r.block(failed, new Error('boom'));
  const behind = record('k4');
  assert.deepEqual(await r.parkBlocked([behind]), []);
  await waitFor(async () => (await redis.exists(r.listKey(failed))) === 0, { what: 'the list drained' });
  assert.deepEqual(applied, [failed.offset, behind.offset]);
  assert.equal(await redis.scard(`${r.options.name}:blocked`), 0);
  await waitFor(async () => (await r.pending()) === 0, { what: 'the job done' });
  const batch = [record('k4')];
  assert.equal(await r.parkBlocked(batch), batch);
});

test('a worker that stopped between parking a record and scheduling its retry: the redelivered record gets the job', async () => {
  const r = retries(undefined, 10);
  const failed = record('k5');
  const parked = JSON.stringify(toParked(failed));
  // What such a worker leaves: the list (and its name in the set), no job. Its batch's offset
  // was never stored, so the record comes again.
  await redis.rpush(r.listKey(failed), parked);
  await redis.sadd(`${r.options.name}:blocked`, r.listKey(failed));
  const behind = record('k5');
  assert.deepEqual(await r.parkBlocked([failed, behind]), [], 'both stay parked, in order');
  assert.equal(await redis.llen(r.listKey(failed)), 2, 'the redelivered record is not parked twice');
  const applied: string[] = [];
  r.start(async (records) => {
    for (const p of records) applied.push(p.offset);
  });
  await waitFor(async () => (await redis.exists(r.listKey(failed))) === 0, { what: 'the list drained' });
  assert.deepEqual(applied, [failed.offset, behind.offset]);
  // A record redelivered while its head has a job adds no second one.
  const idle = retries();
  const again = record('k6');
  await idle.block(again, new Error('boom'));
  assert.deepEqual(await idle.parkBlocked([again]), []);
  const jobs = await idle.queue.getJobs(['delayed', 'waiting', 'active', 'prioritized']);
  assert.equal(jobs.length, 1);
  assert.deepEqual(jobs[0]!.data.errors.map((e) => e.error), ['boom'], 'the first job, with its error');
});

test('a dead-letter write that fails leaves no key blocked: the job waits and writes the letter again', async () => {
  let refusals = 1;
  const flaky = {
    add: (...args: Parameters<DeadLetters['add']>) => (refusals-- > 0 ? Promise.reject(new Error('the queue Redis said no')) : deadLetters.add(...args)),
  } as unknown as DeadLetters;
  const r = new KeyRetries({
    connection: redis,
    name: `${iso.env.FERRY_TOPIC_PREFIX}ferry-retries-${++queues}`,
    deadLetters: flaky,
    logger: createLogger('test', 'silent'),
    backoffMs: 10,
    attempts: 1,
  });
  open.push(r);
  r.start(() => Promise.reject(new Error('this event cannot be applied')));
  const failed = record('k7');
  await r.block(failed, new Error('boom'));
  await waitFor(async () => (await redis.exists(r.listKey(failed))) === 0, { what: 'the list drained' });
  assert.equal(refusals, -1, 'the letter was written on the second try');
  assert.ok(await deadLetters.queue.getJob(`${failed.topic}:${failed.partition}:${failed.offset}`), 'the event is a dead letter');
  assert.equal((await r.queue.getJobs(['failed'])).length, 0, 'no retry job failed for good');
});

test('a list made by a worker that kept no set is found by the scan when a process starts', async () => {
  const name = `${iso.env.FERRY_TOPIC_PREFIX}ferry-retries-${++queues}`;
  const first = record('old');
  const list = retries(name).listKey(first);
  // What such a worker leaves: the list, no set. With no job, only the scan finds it.
  await redis.rpush(list, JSON.stringify(toParked(first)));
  const started = retries(name);
  assert.deepEqual(keysOf(await started.parkBlocked([record('old'), record('new')])), ['new']);
  assert.deepEqual(await redis.smembers(`${name}:blocked`), [list]);
});

test('a list made by such a worker after the scan keeps its key blocked through its retry job', async () => {
  const r = retries();
  assert.equal(keysOf(await r.parkBlocked([record('older')])).length, 1, 'the scan found nothing');
  const later = record('older');
  const list = r.listKey(later);
  await redis.rpush(list, JSON.stringify(toParked(later)));
  await r.queue.add('retry', { list, head: JSON.stringify(toParked(later)), errors: [] }, { delay: 60_000 });
  // That worker owned the partition; this process takes it over.
  r.partitionsAssigned();
  assert.deepEqual(keysOf(await r.parkBlocked([record('older'), record('new')])), ['new']);
});

test('a name left in the set after its list was emptied elsewhere is dropped, and batches pass untouched again', async () => {
  const r = retries();
  const gone = record('gone');
  await r.block(gone, new Error('boom'));
  await r.queue.obliterate({ force: true });
  await redis.del(r.listKey(gone)); // emptied by a worker that kept no set
  const batch = [record('gone'), record('other')];
  assert.deepEqual(keysOf(await r.parkBlocked(batch)), ['gone', 'other']);
  assert.equal(await redis.scard(`${r.options.name}:blocked`), 0);
  assert.equal(await r.parkBlocked(batch), batch);
});

test('no key blocked: the answer holds until this process blocks a key or is assigned partitions', async () => {
  const name = `${iso.env.FERRY_TOPIC_PREFIX}ferry-retries-${++queues}`;
  const r = retries(name, 60_000, 60_000);
  const previousOwner = retries(name);
  assert.deepEqual(keysOf(await r.parkBlocked([record('p1')])), ['p1']);
  await previousOwner.block(record('p1'), new Error('boom'));
  // Only a partition's owner blocks its keys: while this process's partitions stay, the answer is kept.
  assert.deepEqual(keysOf(await r.parkBlocked([record('p1')])), ['p1'], 'the kept answer is used, not asked again');
  r.partitionsAssigned();
  assert.deepEqual(keysOf(await r.parkBlocked([record('p1'), record('p2')])), ['p2'], 'after an assignment the block is seen');

  const own = retries(undefined, 60_000, 60_000);
  assert.deepEqual(keysOf(await own.parkBlocked([record('o1')])), ['o1']);
  await own.block(record('o1'), new Error('boom'));
  assert.deepEqual(keysOf(await own.parkBlocked([record('o1'), record('o2')])), ['o2'], "this process's own block is seen at once");
});

test('a kept answer runs out after trustClearMs: a list made outside the model is noticed', async () => {
  const name = `${iso.env.FERRY_TOPIC_PREFIX}ferry-retries-${++queues}`;
  const r = retries(name, 60_000, 200);
  assert.deepEqual(keysOf(await r.parkBlocked([record('t1')])), ['t1']);
  await retries(name).block(record('t1'), new Error('boom'));
  await waitFor(async () => (await r.parkBlocked([record('t1')])).length === 0, { what: 'the block noticed', timeoutMs: 5_000 });
});
