/**
 * RedisSink's page-view counters against a real Redis (a key prefix of its own): a redelivered
 * page view counts once, and Redis keeps one marker per user, not one per event.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { isolate, type Isolated } from '../../test/helpers.ts';
import type { ConsumedEvent } from '../event.ts';
import { RedisSink } from './redis-sink.ts';

let iso: Isolated;
let sink: RedisSink;

before(async () => {
  iso = await isolate();
  sink = new RedisSink(iso.redis, iso.env.REDIS_PREFIX!);
});

after(async () => {
  await iso?.cleanup();
});

function view(user: string, url: string, partition: number, offset: string): ConsumedEvent {
  return {
    topic: 'page_views',
    partition,
    offset,
    key: user,
    tenant: 'default',
    schemaId: 2,
    value: { event_id: randomUUID(), received_at: Date.now(), user_id: user, url, referrer: null, occurred_at: Date.now() },
  };
}

const counts = async () => iso.redis.hgetall(sink.pageViewsKey);

test('a batch delivered again, whole or in part, counts each page view once', async () => {
  const batch = [view('u1', 'https://shop.example/a', 0, '10'), view('u2', 'https://shop.example/a', 0, '11'), view('u1', 'https://shop.example/b', 0, '12')];
  await sink.applyPageViews(batch);
  await sink.applyPageViews(batch);
  await sink.applyPageViews(batch.slice(1));
  assert.deepEqual(await counts(), { 'https://shop.example/a': '2', 'https://shop.example/b': '1' });
  // The next page view of u1 counts.
  await sink.applyPageViews([view('u1', 'https://shop.example/a', 0, '13')]);
  assert.equal((await counts())['https://shop.example/a'], '3');
});

test('offsets compare as numbers however long they are', async () => {
  await sink.applyPageViews([view('u3', 'https://shop.example/c', 1, '9')]);
  await sink.applyPageViews([view('u3', 'https://shop.example/c', 1, '10')]);
  await sink.applyPageViews([view('u3', 'https://shop.example/c', 1, '9')]);
  await sink.applyPageViews([view('u3', 'https://shop.example/c', 1, '9007199254740993')]);
  await sink.applyPageViews([view('u3', 'https://shop.example/c', 1, '9007199254740992')]);
  assert.equal((await counts())['https://shop.example/c'], '3');
});

test('Redis holds one marker per user, not one per page view', async () => {
  const many = Array.from({ length: 500 }, (_, i) => view(`m${i % 5}`, 'https://shop.example/d', 2, String(100 + i)));
  await sink.applyPageViews(many);
  assert.equal((await counts())['https://shop.example/d'], '500');
  const markers = await iso.redis.keys(`${iso.env.REDIS_PREFIX}seen:pv:m*`);
  assert.equal(markers.length, 5);
});
