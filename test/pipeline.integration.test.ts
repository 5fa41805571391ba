/**
 * The whole request flow through the real services: HTTP gateway -> Avro -> Kafka -> worker
 * -> PostgreSQL, Redis and ClickHouse -> read model back through the gateway.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isolate, type Isolated, onMinute, orderEvent, pool, postJson, type Proc, startGateway, startWorker, waitFor } from './helpers.ts';
import { orderKey } from '../lib/order-cache.ts';

const ORDERS = 100;
const PAGE_VIEWS = 120;
const URLS = ['https://shop.example/', 'https://shop.example/p/1', 'https://shop.example/p/2', 'https://shop.example/cart'];

let iso: Isolated;
let gateway: { proc: Proc; url: string };
let worker: Proc;

before(async () => {
  iso = await isolate();
  gateway = await startGateway(iso.env);
  worker = startWorker(iso.env);
});

after(async () => {
  const codes = await Promise.all([gateway?.proc.stop(), worker?.stop()]);
  await iso?.cleanup();
  // Both stop cleanly on SIGTERM.
  assert.deepEqual(codes, [0, 0], `gateway and worker exit 0 on SIGTERM\n${gateway?.proc.output()}\n${worker?.output()}`);
});

/** What varies between orders besides the id: customer, amount and items. */
function orderDetails(i: number) {
  return { customer_id: `c-${i % 7}`, amount_cents: 1000 + i, items: [{ sku: `SKU-${i % 5}`, quantity: 1 + (i % 3), price_cents: 1000 + i }] };
}

test('events posted over HTTP land exactly once in PostgreSQL, Redis and ClickHouse, and read back through GET', async () => {
  // Two events per order: "created" then "paid" a minute later. They are posted in reverse
  // for odd orders: the worker must still end on "paid" (newer occurred_at wins).
  const events: { path: string; body: unknown }[] = [];
  for (let i = 0; i < ORDERS; i++) {
    const created = { path: '/v1/events/orders', body: orderEvent(`o-${i}`, 'created', onMinute(0), orderDetails(i)) };
    const paid = { path: '/v1/events/orders', body: orderEvent(`o-${i}`, 'paid', onMinute(1), orderDetails(i)) };
    events.push(...(i % 2 ? [paid, created] : [created, paid]));
  }
  const expectedViews = new Map<string, number>();
  for (let i = 0; i < PAGE_VIEWS; i++) {
    const url = URLS[i % URLS.length]!;
    expectedViews.set(url, (expectedViews.get(url) ?? 0) + 1);
    events.push({ path: '/v1/events/page_views', body: { user_id: `u-${i % 9}`, url, referrer: null, occurred_at: '2026-11-23T10:00:00Z' } });
  }

  const answers = await pool(events, 16, (e) => postJson(`${gateway.url}${e.path}`, e.body));
  for (const a of answers) {
    assert.equal(a.status, 202, JSON.stringify(a.json));
    assert.match(String(a.json.event_id), /^[0-9a-f-]{36}$/);
    assert.equal(typeof a.json.partition, 'number');
  }
  const ids = new Set(answers.map((a) => String(a.json.event_id)));
  assert.equal(ids.size, events.length, 'every event got its own id');

  // PostgreSQL: every order exactly once, at its newest version; every order event once in history.
  await waitFor(async () => {
    const [row] = await iso.sql<{ n: string; paid: string }[]>`SELECT count(*) AS n, count(*) FILTER (WHERE status = 'paid') AS paid FROM orders`;
    return Number(row!.n) === ORDERS && Number(row!.paid) === ORDERS;
  }, { what: 'all orders paid in PostgreSQL', timeoutMs: 90_000 });
  const [hist] = await iso.sql<{ n: string; distinct_ids: string }[]>`SELECT count(*) AS n, count(DISTINCT event_id) AS distinct_ids FROM order_history`;
  assert.equal(Number(hist!.n), ORDERS * 2);
  assert.equal(Number(hist!.distinct_ids), ORDERS * 2);
  const [o7] = await iso.sql`SELECT amount_cents, currency, items FROM orders WHERE order_id = 'o-7'`;
  assert.equal(Number(o7!.amount_cents), 1007);
  assert.equal(o7!.currency, 'EUR');
  assert.deepEqual(o7!.items, [{ sku: 'SKU-2', quantity: 2, price_cents: 1007 }]);

  // ClickHouse: one row per accepted event, and the ids are exactly the accepted ones.
  const rows = await waitFor(async () => {
    const rs = await iso.clickhouse.query({ query: 'SELECT event_id, topic FROM events FINAL', format: 'JSONEachRow' });
    const r = await rs.json<{ event_id: string; topic: string }>();
    return r.length >= events.length ? r : undefined;
  }, { what: 'all events in ClickHouse', timeoutMs: 90_000 });
  assert.equal(rows.length, events.length);
  assert.deepEqual(new Set(rows.map((r) => r.event_id)), ids);
  assert.equal(rows.filter((r) => r.topic === 'page_views').length, PAGE_VIEWS);

  // Redis: page-view counters exact, and the cached orders at their newest version.
  await waitFor(async () => {
    const counts = await iso.redis.hgetall(`ferry:${iso.id}:page_views:default:by_url`);
    return URLS.every((u) => Number(counts[u]) === expectedViews.get(u));
  }, { what: 'page-view counters in Redis' });
  const cached = await iso.redis.hget(orderKey(`ferry:${iso.id}:`, 'default', 'o-3'), 'doc');
  assert.ok(cached, 'order o-3 is cached');
  assert.equal(JSON.parse(cached).status, 'paid');

  // Read model through the gateway: from the cache, then from PostgreSQL when the cache is empty.
  const res = await fetch(`${gateway.url}/v1/orders/o-3`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-ferry-source'), 'cache');
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(body.status, 'paid');
  assert.equal(body.amount_cents, 1003);

  await iso.redis.del(orderKey(`ferry:${iso.id}:`, 'default', 'o-4'));
  const fromDb = await fetch(`${gateway.url}/v1/orders/o-4`);
  assert.equal(fromDb.status, 200);
  assert.equal(fromDb.headers.get('x-ferry-source'), 'database');
  assert.equal(((await fromDb.json()) as Record<string, unknown>).status, 'paid');
  assert.ok(await iso.redis.hget(orderKey(`ferry:${iso.id}:`, 'default', 'o-4'), 'doc'), 'the read refilled the cache');

  const missing = await fetch(`${gateway.url}/v1/orders/no-such-order`);
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get('content-type'), 'application/problem+json');
});

test('an invalid event is refused with the field and reason, and nothing reaches the sinks', async () => {
  const bad = await postJson(`${gateway.url}/v1/events/orders`, orderEvent('o-999', 'lost', onMinute(0), { ...orderDetails(999), currency: 'eur' }));
  assert.equal(bad.status, 422);
  const fields = (bad.json.errors as { field: string }[]).map((e) => e.field).sort();
  assert.deepEqual(fields, ['currency', 'status']);

  // A valid marker event posted after the bad one: once it is applied, the bad one would have been too.
  const marker = await postJson(`${gateway.url}/v1/events/orders`, orderEvent('o-998', 'created', onMinute(0), orderDetails(998)));
  assert.equal(marker.status, 202);
  await waitFor(async () => (await iso.sql`SELECT 1 FROM orders WHERE order_id = 'o-998'`).length === 1, { what: 'marker order applied' });
  assert.equal((await iso.sql`SELECT 1 FROM orders WHERE order_id = 'o-999'`).length, 0);
  const rs = await iso.clickhouse.query({ query: "SELECT count() AS n FROM events WHERE key = 'o-999'", format: 'JSONEachRow' });
  assert.equal(Number((await rs.json<{ n: string }>())[0]!.n), 0);
});
