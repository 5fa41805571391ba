/**
 * RedisSink's page-view counters against a real Redis (a key prefix of its own): a redelivered
 * page view, or a copy of it at a later position, counts once, and Redis keeps one marker per
 * user, not one per event.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { isolate, type Isolated } from '../../test/helpers.ts';
import type { ConsumedEvent } from '../../lib/event.ts';
import { orderKey, type OrderRow } from '../../lib/order-cache.ts';
import { OTHER_URLS, RECENT_IDS, RedisSink } from './redis-sink.ts';

let iso: Isolated;
let sink: RedisSink;

before(async () => {
  iso = await isolate();
  sink = new RedisSink(iso.redis, iso.env.REDIS_PREFIX!);
});

after(async () => {
  await iso?.cleanup();
});

function view(user: string, url: string, partition: number, offset: string, tenant = 'default'): ConsumedEvent {
  return {
    topic: 'page_views',
    partition,
    offset,
    key: user,
    tenant,
    schemaId: 2,
    value: { event_id: randomUUID(), received_at: Date.now(), user_id: user, url, referrer: null, occurred_at: Date.now() },
  };
}

const counts = async (tenant = 'default') => iso.redis.hgetall(sink.pageViewsKey(tenant));

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
  const markers = await iso.redis.keys(`${iso.env.REDIS_PREFIX}seen:pv:default:m*`);
  assert.equal(markers.length, 5);
});

test('a batch larger than one script call counts each page view once, delivered twice', async () => {
  const many = Array.from({ length: 1234 }, (_, i) => view(`big${i % 7}`, `https://shop.example/big${i % 3}`, 3, String(1000 + i)));
  await sink.applyPageViews(many);
  await sink.applyPageViews(many);
  const c = await counts();
  assert.equal(Number(c['https://shop.example/big0']) + Number(c['https://shop.example/big1']) + Number(c['https://shop.example/big2']), 1234);
  assert.equal(c['https://shop.example/big0'], String(many.filter((_, i) => i % 3 === 0).length));
});

/** The same page view (same event id) in Kafka again, at a later position. */
const copyAt = (e: ConsumedEvent, offset: string): ConsumedEvent => ({ ...e, offset });

test("a copy of a page view at a later position (a retried request) counts once; one behind more than RECENT_IDS of the user's page views counts again", async () => {
  const first = view('retry', 'https://shop.example/r', 5, '20');
  await sink.applyPageViews([first, view('retry', 'https://shop.example/s', 5, '21')]);
  await sink.applyPageViews([copyAt(first, '22')]);
  // Delivered again after the copy: still once.
  await sink.applyPageViews([first, copyAt(first, '22')]);
  assert.equal((await counts())['https://shop.example/r'], '1');
  assert.equal((await counts())['https://shop.example/s'], '1');
  const others = Array.from({ length: RECENT_IDS }, (_, i) => view('retry', 'https://shop.example/s', 5, String(23 + i)));
  await sink.applyPageViews([...others, copyAt(first, String(23 + RECENT_IDS))]);
  assert.equal((await counts())['https://shop.example/r'], '2', 'the window is RECENT_IDS page views of the user');
});

test("a marker without ids (an earlier release's) still holds back redeliveries, and keeps ids from then on", async () => {
  const marker = `${iso.env.REDIS_PREFIX}seen:pv:default:legacy`;
  await iso.redis.set(marker, '6:41');
  await sink.applyPageViews([view('legacy', 'https://shop.example/l', 6, '41')]);
  const next = view('legacy', 'https://shop.example/l', 6, '42');
  await sink.applyPageViews([next, copyAt(next, '43')]);
  assert.equal((await counts())['https://shop.example/l'], '1');
  assert.equal(await iso.redis.get(marker), `6:43|${next.value.event_id}|`);
});

test('property: whatever mix of redeliveries and retried copies comes, each event id counts once', async () => {
  let run = 0;
  await fc.assert(
    fc.asyncProperty(
      // Per step: a new page view of one of 3 users, a redelivery of the last n records, or a
      // copy of one of a user's last RECENT_IDS records.
      fc.array(
        fc.oneof(
          fc.record({ kind: fc.constant('new' as const), user: fc.nat(2), url: fc.nat(3) }),
          fc.record({ kind: fc.constant('redeliver' as const), n: fc.integer({ min: 1, max: 6 }) }),
          fc.record({ kind: fc.constant('copy' as const), user: fc.nat(2), back: fc.nat(RECENT_IDS - 1) }),
        ),
        { minLength: 1, maxLength: 40 },
      ),
      async (steps) => {
        const tenant = `prop${++run}`;
        const log: ConsumedEvent[] = []; // the partition: what Kafka holds, in offset order
        const perUser = new Map<number, ConsumedEvent[]>();
        const expected = new Map<string, number>();
        let delivered = 0; // records before this one were handed to the sink
        const deliver = async (from: number) => {
          await sink.applyPageViews(log.slice(from));
          delivered = log.length;
        };
        for (const step of steps) {
          if (step.kind === 'new') {
            const e = view(`u${step.user}`, `https://shop.example/p${step.url}`, 0, String(log.length), tenant);
            log.push(e);
            perUser.set(step.user, [...(perUser.get(step.user) ?? []), e]);
            const url = (e.value as { url: string }).url;
            expected.set(url, (expected.get(url) ?? 0) + 1);
            await deliver(delivered);
          } else if (step.kind === 'copy') {
            const mine = perUser.get(step.user) ?? [];
            const original = mine[mine.length - 1 - step.back];
            if (!original) continue;
            const e = copyAt(original, String(log.length));
            log.push(e);
            perUser.set(step.user, [...mine, e]);
            await deliver(delivered);
          } else {
            await deliver(Math.max(0, log.length - step.n));
          }
        }
        const got = await iso.redis.hgetall(sink.pageViewsKey(tenant));
        assert.deepEqual(Object.fromEntries(Object.entries(got).map(([k, v]) => [k, Number(v)])), Object.fromEntries(expected));
      },
    ),
    { numRuns: 60 },
  );
});

test('two tenants with the same user and URL count apart: neither adds to nor suppresses the other', async () => {
  // Same user, partition and offset: with one marker for both, the second would count as a redelivery.
  await sink.applyPageViews([view('twin', 'https://shop.example/t', 4, '7', 'acme'), view('twin', 'https://shop.example/t', 4, '7', 'globex')]);
  await sink.applyPageViews([view('twin', 'https://shop.example/t', 4, '8', 'acme')]);
  assert.deepEqual(await counts('acme'), { 'https://shop.example/t': '2' });
  assert.deepEqual(await counts('globex'), { 'https://shop.example/t': '1' });
  assert.equal((await counts())['https://shop.example/t'], undefined);
});

test('a tenant counts at most maxUrls distinct URLs; page views of further URLs count under (other)', async () => {
  const capped = new RedisSink(iso.redis, iso.env.REDIS_PREFIX!, 3);
  await capped.applyPageViews(Array.from({ length: 6 }, (_, i) => view(`cap${i}`, `https://shop.example/cap${i % 5}`, 5, String(i), 'capped')));
  assert.deepEqual(await counts('capped'), {
    'https://shop.example/cap0': '2',
    'https://shop.example/cap1': '1',
    'https://shop.example/cap2': '1',
    [OTHER_URLS]: '2',
  });
});

function orderRow(orderId: string, status: string, offset: number): OrderRow {
  const at = new Date('2026-11-25T10:00:00Z');
  return {
    tenant: 'default',
    order_id: orderId,
    customer_id: 'c1',
    status,
    amount_cents: '1200',
    currency: 'EUR',
    items: [{ sku: 'sku-1', quantity: 1, price_cents: 1200 }],
    occurred_at: at,
    updated_at: at,
    event_id: randomUUID(),
    source_offset: String(offset),
  };
}

test('orders cached in one call: each lands, and an older version never replaces a newer one', async () => {
  const prefix = iso.env.REDIS_PREFIX!;
  const rows = Array.from({ length: 620 }, (_, i) => orderRow(`o-${i}`, 'paid', 100 + i));
  await sink.refreshOrders(rows);
  // The same orders at older offsets (a late refresh) change nothing; newer ones replace.
  await sink.refreshOrders(rows.map((r, i) => orderRow(r.order_id, i % 2 === 0 ? 'created' : 'shipped', i % 2 === 0 ? 50 : 5000)));
  for (const i of [0, 1, 498, 499, 500, 619]) {
    const doc = JSON.parse((await iso.redis.hget(orderKey(prefix, 'default', `o-${i}`), 'doc'))!) as { status: string };
    assert.equal(doc.status, i % 2 === 0 ? 'paid' : 'shipped', `order o-${i}`);
  }
  assert.equal((await iso.redis.keys(`${prefix}order:*`)).length, 620);
});
