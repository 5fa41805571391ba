/**
 * A worker started before its topics exist (started by hand before `npm run migrate`, or topics
 * recreated) picks them up once they appear, without a restart.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { deleteTopics, ensureTopics, readReplication, topicNames } from '../lib/kafka/topics.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { isolate, type Isolated, onMinute, orderEvent, postJson, type Proc, startGateway, startWorker, waitFor } from './helpers.ts';

let iso: Isolated | undefined;
let worker: Proc | undefined;
let gateway: { proc: Proc; url: string } | undefined;

after(async () => {
  await Promise.all([gateway?.proc.stop(), worker?.stop()]);
  await iso?.cleanup();
});

test('a worker subscribed before its topics exist applies their events once they are created', async () => {
  iso = await isolate();
  const brokers = iso.env.KAFKA_BROKERS!.split(',');
  const topics = topicNames(iso.env.FERRY_TOPIC_PREFIX!, loadRegistry().topics.keys());
  await deleteTopics(brokers, topics);

  worker = startWorker(iso.env);
  // The member is up and subscribed: librdkafka reports the missing topics.
  await waitFor(async () => /Unknown topic or partition/.test(worker!.output()), { what: 'the worker subscribed to missing topics', timeoutMs: 30_000 });

  await ensureTopics({ brokers, topics, partitions: 6, ...readReplication(iso.env, brokers) });
  gateway = await startGateway(iso.env);
  assert.equal((await postJson(`${gateway.url}/v1/events/orders`, orderEvent('late-1', 'created', onMinute(0)))).status, 202);

  // Well inside librdkafka's default 5-minute metadata refresh, which is what the worker would wait without its own.
  const rows = await waitFor(async () => {
    const r = await iso!.sql<{ status: string }[]>`SELECT status FROM orders WHERE order_id = 'late-1'`;
    return r.length ? r : undefined;
  }, { what: 'the order applied by the worker that started first', timeoutMs: 60_000 });
  assert.deepEqual(rows.map((r) => r.status), ['created']);
});
