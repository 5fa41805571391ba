/**
 * Crashes and rebalances while thousands of events flow: a worker killed with SIGKILL, a second
 * worker joining mid-run, and the queue Redis killed with SIGKILL. After each, every sink holds
 * each event exactly once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeadLetters } from '../lib/queues/dead-letters.ts';
import { KafkaProducer } from '../lib/kafka/producer.ts';
import { connectQueueRedis } from '../lib/queues/redis.ts';
import { startPersistentRedis } from '../support/persistent-redis.ts';
import { isolate, type Isolated, liftFailures, orderEvent, planFailures, pool, postJson, startGateway, startWorker, waitFor } from './helpers.ts';

const BATCH = 100;

/** Posts `batches` batches of orders and page views; returns the accepted event ids. */
async function postLoad(url: string, tag: string, batches: number, onBatch?: (n: number) => Promise<void> | void): Promise<{ ids: string[]; views: number }> {
  const ids: string[] = [];
  let views = 0;
  let done = 0;
  await pool(Array.from({ length: batches }, (_, b) => b), 4, async (b) => {
    const orders = Array.from(
      { length: BATCH / 2 },
      (_, i) => orderEvent(`${tag}-${b}-${i % 10}`, i < 10 ? 'created' : 'paid', new Date(Date.UTC(2026, 10, 23, 10, 0, i)).toISOString()),
    );
    const pv = Array.from(
      { length: BATCH / 2 },
      (_, i) => ({ user_id: `u-${i}`, url: `https://shop.example/${tag}/${i % 5}`, referrer: null, occurred_at: '2026-11-23T10:00:00Z' }),
    );
    for (const [topic, body] of [['orders', orders], ['page_views', pv]] as const) {
      const r = await postJson(`${url}/v1/events/${topic}`, body);
      assert.equal(r.status, 202, JSON.stringify(r.json));
      ids.push(...(r.json.results as { event_id: string }[]).map((x) => x.event_id));
    }
    views += pv.length;
    await onBatch?.(++done);
  });
  return { ids, views };
}

async function assertExactlyOnce(iso: Isolated, tag: string, ids: string[], views: number): Promise<void> {
  const orderIds = ids.length - views;
  await waitFor(async () => {
    const [row] = await iso.sql<{ n: string }[]>`SELECT count(*) AS n FROM order_history WHERE order_id LIKE ${tag + '-%'}`;
    return Number(row!.n) === orderIds;
  }, { what: 'every order event in PostgreSQL', timeoutMs: 180_000 });
  const [h] = await iso.sql<{ n: string; d: string }[]>`SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM order_history WHERE order_id LIKE ${
    tag + '-%'
  }`;
  assert.equal(Number(h!.d), orderIds);
  const [paid] = await iso.sql<{ n: string }[]>`SELECT count(*) FILTER (WHERE status <> 'paid') AS n FROM orders WHERE order_id LIKE ${tag + '-%'}`;
  assert.equal(Number(paid!.n), 0, 'every order ended at its newest version');

  const rows = await waitFor(async () => {
    const rs = await iso.clickhouse.query({ query: 'SELECT event_id FROM events FINAL', format: 'JSONEachRow' });
    const r = await rs.json<{ event_id: string }>();
    return r.length >= ids.length ? r : undefined;
  }, { what: 'every event in ClickHouse', timeoutMs: 120_000 });
  assert.equal(rows.length, ids.length);
  assert.deepEqual(new Set(rows.map((r) => r.event_id)), new Set(ids));

  await waitFor(async () => {
    const counts = await iso.redis.hgetall(`ferry:${iso.id}:page_views:default:by_url`);
    const total = Object.entries(counts).filter(([u]) => u.includes(`/${tag}/`)).reduce((a, [, n]) => a + Number(n), 0);
    return total === views;
  }, { what: 'page-view counters exact', timeoutMs: 60_000 });
}

test('a worker killed with SIGKILL mid-run loses nothing and applies nothing twice after restart', async () => {
  const iso = await isolate();
  const gateway = await startGateway(iso.env);
  let worker = startWorker(iso.env);
  try {
    let killed = false;
    const { ids, views } = await postLoad(gateway.url, 'kill', 30, async (n) => {
      if (n === 10 && !killed) {
        killed = true;
        // Let it get some work in flight first.
        await waitFor(async () => {
          const [row] = await iso.sql<{ n: string }[]>`SELECT count(*) AS n FROM order_history`;
          return Number(row!.n) > 0;
        }, { what: 'worker applying' });
        await worker.stop('SIGKILL');
        worker = startWorker(iso.env);
      }
    });
    assert.equal(ids.length, 30 * BATCH);
    assert.ok(killed);
    await assertExactlyOnce(iso, 'kill', ids, views);
  } finally {
    await Promise.all([gateway.proc.stop(), worker.stop()]);
    await iso.cleanup();
  }
});

test('a second worker joining mid-run (rebalance) loses nothing and applies nothing twice', async () => {
  const iso = await isolate();
  const gateway = await startGateway(iso.env);
  const first = startWorker(iso.env);
  let second: ReturnType<typeof startWorker> | undefined;
  try {
    const { ids, views } = await postLoad(gateway.url, 'join', 30, (n) => {
      if (n === 10) second = startWorker(iso.env);
    });
    await assertExactlyOnce(iso, 'join', ids, views);
    assert.ok(second);
  } finally {
    await Promise.all([gateway.proc.stop(), first.stop(), second?.stop()]);
    await iso.cleanup();
  }
});

test('the queue Redis killed with SIGKILL and restarted loses no retry or dead-letter job', async () => {
  const redis = await startPersistentRedis();
  const queueUrl = redis.url;
  const iso = await isolate({ QUEUE_REDIS_URL: queueUrl });
  const gateway = await startGateway(iso.env);
  // Slow retries: the retry job is still waiting when Redis dies.
  const worker = startWorker({ ...iso.env, WORKER_RETRY_ATTEMPTS: '4', WORKER_RETRY_BACKOFF_MS: '3000' });
  const conn = connectQueueRedis(queueUrl);
  conn.on('error', () => {}); // expected while the test has Redis down
  const deadLetters = new DeadLetters(conn, `${iso.env.FERRY_TOPIC_PREFIX}ferry-dead-letters`);
  try {
    // Failing until the plan is lifted (after the restart), so a BullMQ retry is waiting when Redis dies.
    await planFailures(iso.sql, 'qr-1', 1_000_000);
    assert.equal((await postJson(`${gateway.url}/v1/events/orders`, orderEvent('qr-1', 'created', '2026-11-23T10:00:00Z'))).status, 202);
    const producer = new KafkaProducer({ brokers: [iso.env.KAFKA_BROKERS!] });
    await producer.connect();
    await producer.send([{ topic: iso.topic('orders'), key: 'qr-poison', value: Buffer.from([0, 0, 0, 0, 99, 1]) }]);
    await producer.close();
    const retryQueue = `bull:${iso.env.FERRY_TOPIC_PREFIX}ferry-retries:delayed`;
    await waitFor(async () => (await conn.zcard(retryQueue)) === 1 && (await deadLetters.list({ key: 'qr-poison' })).length === 1, {
      what: 'a delayed retry and a dead letter',
      timeoutMs: 30_000,
    });

    await redis.kill();
    await redis.restart();
    await waitFor(async () => (await conn.ping().catch(() => undefined)) === 'PONG', { what: 'queue redis back' });

    assert.equal((await deadLetters.list({ key: 'qr-poison' })).length, 1, 'the dead letter survived');
    await liftFailures(iso.sql, 'qr-1');
    // The retry survived too: the event is applied once when its turn comes.
    await waitFor(async () => (await iso.sql`SELECT 1 FROM order_history WHERE order_id = 'qr-1'`).length === 1, {
      what: 'retried event applied after the restart',
      timeoutMs: 60_000,
    });
    assert.equal((await iso.sql`SELECT 1 FROM order_history WHERE order_id = 'qr-1'`).length, 1);
  } finally {
    await Promise.all([gateway.proc.stop(), worker.stop()]);
    await deadLetters.close();
    conn.disconnect();
    await iso.cleanup();
    await redis.remove();
  }
});
