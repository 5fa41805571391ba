/**
 * A process that dies before its cleanup leaves its isolation behind; the sweep drops it from
 * every store, and leaves alone the isolations of processes still running.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, test } from 'node:test';
import type * as RdKafka from '@confluentinc/kafka-javascript';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { createClickhouse } from '../lib/clickhouse.ts';
import { isolate } from './isolation.ts';
import { startProcess } from './processes.ts';
import { sweepStaleIsolations } from './stale-isolations.ts';

const require = createRequire(import.meta.url);
const { AdminClient } = require('@confluentinc/kafka-javascript') as typeof RdKafka;

const live = await isolate();
after(() => live.cleanup());

async function topics(): Promise<string[]> {
  const admin = AdminClient.create({ 'bootstrap.servers': live.env.KAFKA_BROKERS!, 'client.id': 'ferry-test' });
  try {
    return await new Promise<string[]>((resolve, reject) => admin.listTopics({ timeout: 10_000 }, (err, t) => (err ? reject(err) : resolve(t))));
  } finally {
    admin.disconnect();
  }
}

async function traces(id: string) {
  const admin = postgres('postgres://postgres@127.0.0.1:5432/postgres', { max: 1, onnotice: () => {} });
  const pg = await admin`SELECT count(*)::int AS n FROM pg_database WHERE datname = ${`ferry_${id}`}`;
  await admin.end();
  const ch = createClickhouse('http://127.0.0.1:8123/default');
  // ClickHouse 18.16 has no query parameters; the id was checked to be letters and digits.
  assert.match(id, /^t[0-9a-z]+$/);
  const rs = await ch.query({ query: `SELECT count() AS n FROM system.databases WHERE name = 'ferry_${id}'`, format: 'JSONEachRow' });
  const chCount = Number(((await rs.json()) as { n: string }[])[0]!.n);
  await ch.close();
  const cache = new Redis(live.env.REDIS_URL!);
  const queue = new Redis(live.env.QUEUE_REDIS_URL!);
  const keys = (await cache.keys(`ferry:${id}:*`)).length + (await queue.keys(`bull:${id}.*`)).length + (await queue.keys(`${id}.*`)).length;
  cache.disconnect();
  queue.disconnect();
  return { postgres: pg[0]!.n, clickhouse: chCount, topics: (await topics()).filter((t) => t.startsWith(`${id}.`)).length, keys };
}

test('what a dead process isolated is dropped everywhere; a live isolation stays', async () => {
  const dying = startProcess('support/fixtures/isolate-and-die.ts', {});
  await dying.exited;
  const id = dying.output().trim().split('\n').pop()!;
  assert.match(id, /^t[0-9a-z]{20}$/, dying.output());
  assert.deepEqual(await traces(id), { postgres: 1, clickhouse: 1, topics: 2, keys: 3 });

  const result = await sweepStaleIsolations();
  assert.ok(result.ids.includes(id), JSON.stringify(result));
  assert.ok(!result.ids.includes(live.id));
  assert.deepEqual(result.problems, []);
  assert.deepEqual(await traces(id), { postgres: 0, clickhouse: 0, topics: 0, keys: 0 });
  // The live isolation is whole.
  const mine = await traces(live.id);
  assert.equal(mine.postgres, 1);
  assert.equal(mine.clickhouse, 1);
  assert.equal(mine.topics, 2);
});
