/**
 * Worker failure handling through the real services: per-event retries that keep per-key
 * order, dead letters and replay, poison records, per-key order, a PostgreSQL outage, and a
 * ClickHouse outage that holds only the analytics consumer group.
 * Failures are real: a PostgreSQL trigger that raises, garbage bytes in Kafka, a cut TCP path.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { KafkaProducer } from '../lib/kafka/producer.ts';
import { DeadLetters } from '../lib/queues/dead-letters.ts';
import { connectQueueRedis } from '../lib/queues/redis.ts';
import {
  type CuttableProxy,
  cuttableProxy,
  isolate,
  type Isolated,
  liftFailures,
  orderEvent,
  planFailures,
  plannedAttempts,
  pool,
  postJson,
  type Proc,
  startGateway,
  startWorker,
  waitFor,
} from './helpers.ts';

const root = new URL('../', import.meta.url).pathname;
let iso: Isolated;
let gateway: { proc: Proc; url: string };
let worker: Proc;
let pgProxy: CuttableProxy;
let chProxy: CuttableProxy;
let deadLetters: DeadLetters;
let queueRedis: ReturnType<typeof connectQueueRedis>;

before(async () => {
  iso = await isolate();
  pgProxy = await cuttableProxy(5432);
  chProxy = await cuttableProxy(Number(new URL(iso.env.CLICKHOUSE_URL!).port || 8123));
  gateway = await startGateway(iso.env);
  worker = startWorker({
    ...iso.env,
    DATABASE_URL: iso.env.DATABASE_URL!.replace(':5432/', `:${pgProxy.port}/`),
    CLICKHOUSE_URL: Object.assign(new URL(iso.env.CLICKHOUSE_URL!), { port: String(chProxy.port) }).toString(),
    WORKER_RETRY_ATTEMPTS: '3',
    WORKER_RETRY_BACKOFF_MS: '500', // retries come at least ~0.75 s apart: the tests lift a failure plan between them
  });
  queueRedis = connectQueueRedis(iso.env.QUEUE_REDIS_URL!);
  deadLetters = new DeadLetters(queueRedis, `${iso.env.FERRY_TOPIC_PREFIX}ferry-dead-letters`);
});

after(async () => {
  await Promise.all([gateway?.proc.stop(), worker?.stop()]);
  await deadLetters?.queue.obliterate({ force: true }).catch(() => {});
  await deadLetters?.close();
  queueRedis?.disconnect();
  await pgProxy?.close();
  await chProxy?.close();
  await iso?.cleanup();
});

const post = (body: unknown) => postJson(`${gateway.url}/v1/events/orders`, body);

async function history(orderId: string) {
  return iso.sql<{ status: string; source_offset: string; applied_seq: string }[]>`
    SELECT status, source_offset, applied_seq FROM order_history WHERE order_id = ${orderId} ORDER BY applied_seq`;
}

const retryJobs = () => queueRedis.zcard(`bull:${iso.env.FERRY_TOPIC_PREFIX}ferry-retries:delayed`);

test('an event that keeps failing is retried by BullMQ and applied once when the cause is gone; its key waits, other keys flow', async () => {
  await planFailures(iso.sql, 'flaky-1', 1_000_000);
  assert.equal((await post(orderEvent('flaky-1', 'created', '2026-11-23T10:00:00Z'))).status, 202);
  assert.equal((await post(orderEvent('flaky-1', 'paid', '2026-11-23T10:01:00Z'))).status, 202);
  assert.equal((await post(orderEvent('steady-1', 'created', '2026-11-23T10:00:00Z'))).status, 202);
  // The first delivery could not apply it: it is parked and a retry is scheduled. Then the cause goes away.
  await waitFor(async () => (await retryJobs()) >= 1, { what: 'a retry scheduled for flaky-1', intervalMs: 20, timeoutMs: 30_000 });
  await liftFailures(iso.sql, 'flaky-1');

  await waitFor(async () => (await history('flaky-1')).length === 2, { what: 'flaky-1 applied after retries', timeoutMs: 30_000 });
  const h = await history('flaky-1');
  assert.deepEqual(h.map((r) => r.status), ['created', 'paid'], 'the later event of the key waited behind the retried one');
  assert.ok(await plannedAttempts(iso.sql, 'flaky-1') >= 3, 'the failing insert really was attempted again');
  const [row] = await iso.sql`SELECT status FROM orders WHERE order_id = 'flaky-1'`;
  assert.equal(row!.status, 'paid');
  assert.equal((await history('steady-1')).length, 1);
  assert.equal((await deadLetters.list({ key: 'flaky-1' })).length, 0);
});

test('while one event of a batch is retried, its order waits, and the rest of its batch is written once to every sink', async () => {
  await planFailures(iso.sql, 'batchy-7', 1_000_000, 'created');
  const events = Array.from({ length: 24 }, (_, i) => orderEvent(`batchy-${i}`, 'created', '2026-11-23T10:00:00Z'));
  events.push(orderEvent('batchy-7', 'paid', '2026-11-23T10:01:00Z'));
  assert.equal((await post(events)).status, 202);
  await waitFor(async () => {
    const [r] = await iso.sql<{ n: string }[]>`SELECT count(*) AS n FROM order_history WHERE order_id LIKE 'batchy-%'`;
    return Number(r!.n) === 23 && (await retryJobs()) >= 1;
  }, { what: 'the other 23 applied and a retry scheduled for batchy-7', intervalMs: 20, timeoutMs: 30_000 });
  await liftFailures(iso.sql, 'batchy-7');
  await waitFor(async () => (await history('batchy-7')).length === 2, { what: 'batchy-7 applied by its retry', timeoutMs: 30_000 });
  assert.deepEqual((await history('batchy-7')).map((r) => r.status), ['created', 'paid'], 'the later event of the order waited behind the failed one');
  // Raw rows, not FINAL: a copy written again while the failing event was handled would show here.
  const rs = await iso.clickhouse.query({
    query: "SELECT key, count() AS n FROM events WHERE key LIKE 'batchy-%' AND key != 'batchy-7' GROUP BY key",
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{ key: string; n: string }>();
  assert.equal(rows.length, 23);
  assert.deepEqual(rows.filter((r) => Number(r.n) !== 1), [], 'every other event has exactly one ClickHouse row');
});

test('an event that always fails is dead-lettered after the configured attempts, and replay applies it once fixed', async () => {
  await planFailures(iso.sql, 'broken-1', 1_000_000, 'created');
  const first = await post(orderEvent('broken-1', 'created', '2026-11-23T10:00:00Z'));
  assert.equal(first.status, 202);
  assert.equal((await post(orderEvent('broken-1', 'paid', '2026-11-23T10:05:00Z'))).status, 202);

  const [letter] = await waitFor(async () => {
    const l = await deadLetters.list({ key: 'broken-1' });
    return l.length ? l : undefined;
  }, { what: 'broken-1 dead-lettered', timeoutMs: 30_000 });
  assert.equal(letter!.data.step, 'apply');
  assert.equal(letter!.data.topic, iso.topic('orders'));
  assert.equal(letter!.data.attempts.length, 3, 'one entry per attempt');
  assert.match(letter!.data.error, /planned failure/);
  assert.ok(letter!.data.value_base64, 'the original bytes are kept');
  // The event behind it was applied once the head was dead-lettered.
  await waitFor(async () => (await history('broken-1')).some((r) => r.status === 'paid'), { what: 'paid applied after the head died' });

  // Fix the cause, then replay through the normal path with the command-line tool.
  await iso.sql`DELETE FROM test_fail_plan WHERE order_id = 'broken-1'`;
  const code = await new Promise<number | null>((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'cli/dlq.ts', 'replay', '--key', 'broken-1'], {
      cwd: root,
      env: { ...process.env, ...iso.env },
      stdio: 'inherit',
    });
    p.on('exit', resolve);
  });
  assert.equal(code, 0);
  await waitFor(async () => (await history('broken-1')).length === 2, { what: 'replayed event applied' });
  const statuses = (await history('broken-1')).map((r) => r.status).sort();
  assert.deepEqual(statuses, ['created', 'paid']);
  // The replayed, older event did not move the order back.
  const [row] = await iso.sql`SELECT status FROM orders WHERE order_id = 'broken-1'`;
  assert.equal(row!.status, 'paid');
  assert.equal((await deadLetters.list({ key: 'broken-1' })).length, 0);

  // Replaying the same record again changes nothing.
  const producer = new KafkaProducer({ brokers: [iso.env.KAFKA_BROKERS!] });
  await producer.connect();
  await producer.send([{ topic: letter!.data.topic, key: 'broken-1', value: Buffer.from(letter!.data.value_base64!, 'base64') }]);
  const marker = await post(orderEvent('after-replay', 'created', '2026-11-23T10:00:00Z'));
  assert.equal(marker.status, 202);
  await waitFor(async () => (await history('after-replay')).length === 1, { what: 'marker after duplicate replay' });
  await producer.close();
  assert.equal((await history('broken-1')).length, 2);
});

test('a poison record goes to the dead-letter queue and the partition keeps moving', async () => {
  const producer = new KafkaProducer({ brokers: [iso.env.KAFKA_BROKERS!] });
  await producer.connect();
  // Same key as the follow-up event, so both land in the same partition.
  const [d] = await producer.send([{ topic: iso.topic('orders'), key: 'poison-1', value: Buffer.from('definitely not avro') }]);
  await producer.close();
  assert.ok(d?.ok);
  const started = Date.now();
  assert.equal((await post(orderEvent('poison-1', 'created', '2026-11-23T10:00:00Z'))).status, 202);
  await waitFor(async () => (await history('poison-1')).length === 1, { what: 'event after the poison record', timeoutMs: 15_000 });
  assert.ok(Date.now() - started < 15_000);
  const letters = await deadLetters.list({ step: 'decode', key: 'poison-1' });
  assert.equal(letters.length, 1);
  assert.equal(Buffer.from(letters[0]!.data.value_base64!, 'base64').toString(), 'definitely not avro');
});

test('per-key order holds for many keys with many events each', async () => {
  const keys = Array.from({ length: 30 }, (_, i) => `seq-${i}`);
  const perKey = 12;
  const statuses = ['created', 'paid', 'shipped'];
  await pool(keys, 10, async (key) => {
    for (let n = 0; n < perKey; n++) {
      const at = new Date(Date.UTC(2026, 10, 23, 10, 0, n)).toISOString();
      const r = await post(orderEvent(key, statuses[n % 3]!, at, { amount_cents: n }));
      assert.equal(r.status, 202);
    }
  });
  await waitFor(async () => {
    const [row] = await iso.sql<{ n: string }[]>`SELECT count(*) AS n FROM order_history WHERE order_id LIKE 'seq-%'`;
    return Number(row!.n) === keys.length * perKey;
  }, { what: 'all sequence events applied', timeoutMs: 60_000 });
  for (const key of keys) {
    const h = await iso.sql<{ amount_cents: string; source_offset: string }[]>`
      SELECT amount_cents, source_offset FROM order_history WHERE order_id = ${key} ORDER BY applied_seq`;
    const offsets = h.map((r) => BigInt(r.source_offset));
    assert.deepEqual(offsets, [...offsets].sort((a, b) => (a < b ? -1 : 1)), `${key} applied in offset order`);
    assert.deepEqual(h.map((r) => Number(r.amount_cents)), Array.from({ length: perKey }, (_, n) => n), `${key} applied in posting order`);
    const [row] = await iso.sql`SELECT amount_cents FROM orders WHERE order_id = ${key}`;
    assert.equal(Number(row!.amount_cents), perKey - 1);
  }
});

test('while PostgreSQL is unreachable nothing is dead-lettered, and everything is applied after it returns', async () => {
  const before = (await deadLetters.list()).length;
  await pgProxy.cut();
  const ids = Array.from({ length: 40 }, (_, i) => `outage-${i}`);
  await pool(ids, 8, async (id) => assert.equal((await post(orderEvent(id, 'created', '2026-11-23T10:00:00Z'))).status, 202));
  // Let the worker hit the outage for a while (polling ClickHouse, which is still up, as the clock).
  await waitFor(async () => {
    const rs = await iso.clickhouse.query({ query: "SELECT count() AS n FROM events WHERE key LIKE 'outage-%'", format: 'JSONEachRow' });
    return Number((await rs.json<{ n: string }>())[0]!.n) >= 0 && worker.output().includes('unreachable');
  }, { what: 'worker noticed the outage', timeoutMs: 20_000 });
  const [none] = await iso.sql<{ n: string }[]>`SELECT count(*) AS n FROM orders WHERE order_id LIKE 'outage-%'`;
  assert.equal(Number(none!.n), 0);
  await pgProxy.restore();
  await waitFor(async () => {
    const [row] = await iso.sql<{ n: string }[]>`SELECT count(*) AS n FROM order_history WHERE order_id LIKE 'outage-%'`;
    return Number(row!.n) === ids.length;
  }, { what: 'all outage events applied after PostgreSQL returned', timeoutMs: 90_000 });
  assert.equal((await deadLetters.list()).length, before, 'no dead letters from the outage');
});

test('while ClickHouse is unreachable the read model keeps flowing; ClickHouse gets every event once when it returns', async () => {
  const before = (await deadLetters.list()).length;
  const chCount = async (final: boolean) => {
    const rs = await iso.clickhouse.query({
      query: `SELECT count() AS n FROM events ${final ? 'FINAL' : ''} WHERE key LIKE 'ch-outage-%'`,
      format: 'JSONEachRow',
    });
    return Number((await rs.json<{ n: string }>())[0]!.n);
  };
  await chProxy.cut();
  const ids = Array.from({ length: 40 }, (_, i) => `ch-outage-${i}`);
  const inPostgres = async () => {
    const [row] = await iso.sql<{ n: string }[]>`SELECT count(*) AS n FROM order_history WHERE order_id LIKE 'ch-outage-%'`;
    return Number(row!.n);
  };
  // Two waves: the second is posted after the worker met the outage, so it only reaches
  // PostgreSQL if the read model does not wait for ClickHouse.
  for (const wave of [ids.slice(0, 20), ids.slice(20)]) {
    await pool(wave, 8, async (id) => assert.equal((await post(orderEvent(id, 'created', '2026-11-23T10:00:00Z'))).status, 202));
    const want = ids.indexOf(wave[wave.length - 1]!) + 1;
    await waitFor(async () => (await inPostgres()) === want, { what: `${want} orders applied to PostgreSQL during the ClickHouse outage`, timeoutMs: 30_000 });
  }
  await waitFor(async () => worker.output().includes('unreachable'), { what: 'worker noticed the ClickHouse outage', timeoutMs: 20_000 });
  assert.equal(await chCount(false), 0, 'nothing reached ClickHouse through the cut path');
  await chProxy.restore();
  await waitFor(async () => (await chCount(true)) === ids.length, { what: 'all events in ClickHouse after it returned', timeoutMs: 90_000 });
  assert.equal((await deadLetters.list()).length, before, 'no dead letters from the outage');
});
