/**
 * `Prefer: wait` end to end with the real worker: the worker applies the events to
 * PostgreSQL, Redis and ClickHouse, then publishes their ids on `<REDIS_PREFIX>applied`; the
 * gateway holding the request answers 200 with the read model's result.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isolate, type Isolated, onMinute, orderEvent, postJson, type Proc, startGateway, startWorker, waitFor } from './helpers.ts';

/** The answer's order is asserted field by field: an amount and items of its own. */
const WAIT_ORDER = { amount_cents: 4200, items: [{ sku: 'S', quantity: 2, price_cents: 2100 }] };

let iso: Isolated;
let gateway: { proc: Proc; url: string };
let worker: Proc;

before(async () => {
  iso = await isolate();
  gateway = await startGateway(iso.env);
  worker = startWorker(iso.env);
  // The worker has joined its group once an event posted without waiting is applied.
  const warm = await postJson(`${gateway.url}/v1/events/orders`, orderEvent('warm-up', 'created', onMinute(0), WAIT_ORDER));
  assert.equal(warm.status, 202);
  await waitFor(async () => (await iso.sql`SELECT 1 FROM orders WHERE order_id = 'warm-up'`).length === 1, { what: 'worker applying', timeoutMs: 90_000 });
});

after(async () => {
  const codes = await Promise.all([gateway?.proc.stop(), worker?.stop()]);
  await iso?.cleanup();
  assert.deepEqual(codes, [0, 0], `${gateway?.proc.output()}\n${worker?.output()}`);
});

test('an order posted with Prefer: wait is answered 200 with the order as the read model holds it after the worker applied it', async () => {
  const created = await postJson(`${gateway.url}/v1/events/orders`, orderEvent('w-1', 'created', onMinute(0), WAIT_ORDER), { prefer: 'wait=20' });
  assert.equal(created.status, 200, JSON.stringify(created.json));
  assert.equal(created.headers.get('preference-applied'), 'wait=20');
  const view = created.json.order as Record<string, unknown>;
  assert.equal(view.order_id, 'w-1');
  assert.equal(view.status, 'created');
  assert.equal(view.amount_cents, 4200);
  assert.equal(view.event_id, created.json.event_id);

  // The next change: the answer already shows it, and so does PostgreSQL.
  const paid = await postJson(`${gateway.url}/v1/events/orders`, orderEvent('w-1', 'paid', onMinute(1), WAIT_ORDER), { prefer: 'wait=20' });
  assert.equal(paid.status, 200, JSON.stringify(paid.json));
  assert.equal((paid.json.order as Record<string, unknown>).status, 'paid');
  const [row] = await iso.sql<{ status: string; event_id: string }[]>`SELECT status, event_id FROM orders WHERE order_id = 'w-1'`;
  assert.equal(row!.status, 'paid');
  assert.equal(row!.event_id, paid.json.event_id);

  // Read-your-writes through GET, with the ETag of that version.
  const res = await fetch(`${gateway.url}/v1/orders/w-1`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('etag'), `W/"${String(paid.json.event_id)}"`);
});

test('a batch of page views with Prefer: wait is answered 200 with every applied id, counted once in Redis', async () => {
  const views = Array.from({ length: 25 }, (_, i) => ({ user_id: `u-${i % 4}`, url: 'https://shop.example/wait', occurred_at: '2026-11-23T10:00:00Z' }));
  const res = await postJson(`${gateway.url}/v1/events/page_views`, views, { prefer: 'wait=20' });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  assert.equal(res.json.accepted, 25);
  const ids = (res.json.results as { event_id: string }[]).map((r) => r.event_id);
  assert.deepEqual(res.json.applied, ids);
  assert.equal(Number(await iso.redis.hget(`${iso.env.REDIS_PREFIX}page_views:default:by_url`, 'https://shop.example/wait')), 25);
});
