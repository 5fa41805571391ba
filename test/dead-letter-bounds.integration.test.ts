/**
 * Dead letters within their bounds on the real queue Redis: past DEAD_LETTER_MAX_COUNT the
 * oldest go, whether held (failed, BullMQ's removeOnFail) or not yet seen by a replayer
 * (waiting, trimmed on add); a warning comes from 80 % on; the dashboard's gauges show the
 * bound and the queue Redis's memory.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { UnrecoverableError, Worker } from 'bullmq';
import { DeadLetters } from '../lib/queues/dead-letters.ts';
import { connectQueueRedis } from '../lib/queues/redis.ts';
import { queueMetrics } from '../dashboard/metrics.ts';

const redis = connectQueueRedis(process.env.QUEUE_REDIS_URL ?? 'redis://127.0.0.1:6380');
const made: DeadLetters[] = [];

// Not helpers.ts's: that one loads the Kafka client, which this test does not need.
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

after(async () => {
  for (const d of made) {
    await d.queue.obliterate({ force: true }).catch(() => {});
    await d.close();
  }
  redis.disconnect();
});

function letters(maxCount: number) {
  const warnings: object[] = [];
  const logger = { debug: () => {}, info: () => {}, warn: (o: object) => warnings.push(o) };
  const d = new DeadLetters(redis, `test-dlq-${randomBytes(6).toString('hex')}`, undefined, { bounds: { maxCount, maxAgeDays: 30 }, logger });
  made.push(d);
  return { d, warnings };
}

const add = (d: DeadLetters, offset: number) =>
  d.add(
    { topic: 't', partition: 0, offset: String(offset), key: Buffer.from(`k-${offset}`), value: Buffer.from('x'), timestamp: Date.now() },
    'apply',
    new Error('boom'),
  );

test('letters no replayer has seen are trimmed to the bound, oldest first, with a warning from 80 %', async () => {
  const { d, warnings } = letters(5);
  for (let i = 0; i < 3; i++) await add(d, i);
  assert.equal(warnings.length, 0);
  await add(d, 3);
  assert.equal(warnings.length, 1, 'warned at 4 of 5');
  for (let i = 4; i < 9; i++) await add(d, i);
  assert.equal(await d.count(), 5);
  const kept = (await d.list()).map((j) => Number(j.data.offset)).sort((a, b) => a - b);
  assert.deepEqual(kept, [4, 5, 6, 7, 8]);
  assert.equal(warnings.length, 1, 'at most one warning a minute');
});

test('held (failed) letters are kept within the bound by BullMQ', async () => {
  const { d } = letters(3);
  const connection = redis.duplicate();
  const worker = new Worker(d.name, async () => {
    throw new UnrecoverableError('held');
  }, { connection });
  try {
    for (let i = 0; i < 6; i++) {
      await add(d, i);
      await until(
        async () => (await d.queue.getJobCountByTypes('wait', 'active')) === 0 && (await d.queue.getJob(`t:0:${i}`))?.failedReason === 'held',
        `letter ${i} held`,
      );
    }
    const kept = (await d.list()).map((j) => Number(j.data.offset)).sort((a, b) => a - b);
    assert.ok(kept.length <= 3 && kept.length >= 2, `kept ${kept}`);
    assert.deepEqual(kept.slice(-2), [4, 5], 'the newest are kept');
  } finally {
    await worker.close();
    connection.disconnect();
  }
});

test('the dashboard gauges show the bound and the queue Redis memory', async () => {
  const { d } = letters(7);
  const text = await queueMetrics(d, [], redis).metrics();
  assert.match(text, /^ferry_dead_letters_max 7$/m);
  assert.match(text, /^ferry_queue_redis_memory_bytes\{kind="used"\} [1-9]\d*$/m);
  assert.match(text, /^ferry_queue_redis_memory_bytes\{kind="max"\} \d+$/m);
});
