/**
 * Tenants end to end: the gateway stamps each record with the credential's tenant, the worker
 * keeps each tenant's orders apart, and a tenant reads back only its own, even when two
 * tenants use the same order id. Nothing one tenant sends may delay, suppress, overwrite or
 * count toward another's events: not through a shared key, event id or Idempotency-Key.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { isolate, type Isolated, orderEvent, planFailures, postJson, type Proc, startGateway, startWorker, waitFor } from './helpers.ts';

const newKey = () => `fry_${randomBytes(24).toString('base64url')}`;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const ACME = newKey();
const ACME_2 = newKey();
const GLOBEX = newKey();
const API_KEYS = JSON.stringify([
  { id: 'acme', tenant: 'acme', sha256: sha(ACME), scopes: ['write:orders', 'read:orders', 'write:page_views'] },
  { id: 'acme-2', tenant: 'acme', sha256: sha(ACME_2), scopes: ['write:orders'] },
  { id: 'globex', tenant: 'globex', sha256: sha(GLOBEX), scopes: ['write:orders', 'read:orders', 'write:page_views'] },
]);

let iso: Isolated;
let gateway: { proc: Proc; url: string };
let worker: Proc;
let queueRedis: Redis;

before(async () => {
  iso = await isolate();
  queueRedis = new Redis(iso.env.QUEUE_REDIS_URL!);
  gateway = await startGateway({ ...iso.env, FERRY_API_KEYS: API_KEYS });
  // Retries far apart: an event parked behind another tenant's failing one would wait long.
  worker = startWorker({ ...iso.env, WORKER_RETRY_BACKOFF_MS: '60000' });
  assert.equal(await post(ACME, orderEvent('t-warm-up', 'created', '2026-11-23T09:00:00Z')), 202);
  await waitFor(async () => (await iso.sql`SELECT 1 FROM orders WHERE order_id = 't-warm-up'`).length === 1, { what: 'worker applying', timeoutMs: 90_000 });
});

after(async () => {
  await Promise.all([gateway?.proc.stop(), worker?.stop()]);
  queueRedis?.disconnect();
  await iso?.cleanup();
});

async function send(key: string, body: unknown, topic = 'orders', headers: Record<string, string> = {}) {
  const res = await postJson(`${gateway.url}/v1/events/${topic}`, body, { 'x-api-key': key, ...headers });
  return { status: res.status, replayed: res.headers.get('idempotent-replayed'), json: res.json };
}

const post = async (key: string, body: unknown) => (await send(key, body)).status;

async function get(key: string, orderId: string) {
  const res = await fetch(`${gateway.url}/v1/orders/${orderId}`, { headers: { 'x-api-key': key } });
  return { status: res.status, body: res.status === 200 ? ((await res.json()) as { status: string; customer_id: string }) : undefined };
}

test('two tenants with the same order id each keep and read their own order', async () => {
  assert.equal(
    (await postJson(`${gateway.url}/v1/events/orders`, orderEvent('t-1', 'created', '2026-11-23T10:00:00Z', { customer_id: 'acme-c' }), { 'x-api-key': ACME }))
      .status,
    202,
  );
  assert.equal(
    (await postJson(`${gateway.url}/v1/events/orders`, orderEvent('t-1', 'paid', '2026-11-23T10:05:00Z', { customer_id: 'globex-c' }), { 'x-api-key': GLOBEX }))
      .status,
    202,
  );
  assert.equal(
    (await postJson(`${gateway.url}/v1/events/orders`, orderEvent('t-only-globex', 'created', '2026-11-23T10:00:00Z'), { 'x-api-key': GLOBEX })).status,
    202,
  );

  await waitFor(async () => (await iso.sql`SELECT 1 FROM order_history WHERE order_id IN ('t-1', 't-only-globex')`).length === 3, {
    what: 'all three applied',
    timeoutMs: 60_000,
  });
  const rows = await iso.sql<
    { tenant: string; status: string; customer_id: string }[]
  >`SELECT tenant, status, customer_id FROM orders WHERE order_id = 't-1' ORDER BY tenant`;
  assert.deepEqual(rows.map((r) => [r.tenant, r.status, r.customer_id]), [['acme', 'created', 'acme-c'], ['globex', 'paid', 'globex-c']]);

  // Twice each: the first read may come from PostgreSQL, the second from the refilled cache.
  for (let i = 0; i < 2; i++) {
    const acme = await get(ACME, 't-1');
    assert.equal(acme.status, 200);
    assert.deepEqual([acme.body!.status, acme.body!.customer_id], ['created', 'acme-c']);
    const globex = await get(GLOBEX, 't-1');
    assert.deepEqual([globex.body!.status, globex.body!.customer_id], ['paid', 'globex-c']);
    assert.equal((await get(ACME, 't-only-globex')).status, 404, "acme does not see globex's order");
  }
});

test("one tenant's event that keeps failing does not hold back another tenant's events of the same order id", async () => {
  await planFailures(iso.sql, 't-poison', 1_000_000, 'paid');
  assert.equal(await post(ACME, orderEvent('t-poison', 'paid', '2026-11-23T10:00:00Z')), 202);
  const delayed = `bull:${iso.env.FERRY_TOPIC_PREFIX}ferry-retries:delayed`;
  await waitFor(async () => (await queueRedis.zcard(delayed)) >= 1, { what: "acme's event parked for a retry", timeoutMs: 30_000 });

  assert.equal(await post(GLOBEX, orderEvent('t-poison', 'created', '2026-11-23T10:01:00Z')), 202);
  // Parked behind acme's event it would wait for a retry a minute away.
  await waitFor(async () => (await iso.sql`SELECT 1 FROM orders WHERE tenant = 'globex' AND order_id = 't-poison'`).length === 1, {
    what: "globex's event applied",
    timeoutMs: 20_000,
  });
  assert.equal((await iso.sql`SELECT 1 FROM orders WHERE tenant = 'acme' AND order_id = 't-poison'`).length, 0, "acme's is still waiting for its retry");
});

// Needs the PostgreSQL function change (order_history keyed by (tenant, event_id)); see migration 010.
test('the same event id from two tenants: both land in order_history and orders', async () => {
  const eventId = randomUUID();
  assert.equal(await post(ACME, orderEvent('t-same-id-a', 'created', '2026-11-23T10:00:00Z', { event_id: eventId })), 202);
  assert.equal(await post(GLOBEX, orderEvent('t-same-id-g', 'created', '2026-11-23T10:00:00Z', { event_id: eventId })), 202);
  await waitFor(async () => (await iso.sql`SELECT 1 FROM orders WHERE order_id IN ('t-same-id-a', 't-same-id-g')`).length === 2, {
    what: 'both orders applied',
    timeoutMs: 20_000,
  });
  const history = await iso.sql<{ tenant: string }[]>`SELECT tenant FROM order_history WHERE event_id = ${eventId} ORDER BY tenant`;
  assert.deepEqual(history.map((r) => r.tenant), ['acme', 'globex']);
});

test("Prefer: wait on an event id another tenant also used is not ended by the other tenant's event, nor held by its failure in the same batch", async () => {
  const eventId = randomUUID();
  // globex's event keeps failing, so it is never applied while the wait lasts.
  await planFailures(iso.sql, 't-wait', 1_000_000, 'paid');
  // One order id, so one partition: while a lock holds the read model's call for an earlier
  // event of it, both events queue behind that call and come in one batch.
  let globexAnswered = false;
  let globex: ReturnType<typeof send> | undefined;
  let acme: ReturnType<typeof send> | undefined;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const lock = iso.sql.begin(async (tx) => {
    await tx`LOCK TABLE order_history IN SHARE MODE`;
    await released;
  });
  try {
    assert.equal(await post(GLOBEX, orderEvent('t-wait', 'created', '2026-11-23T09:00:00Z')), 202);
    await waitFor(async () => (await iso.sql`SELECT 1 FROM pg_locks WHERE NOT granted AND relation = 'order_history'::regclass`).length > 0, {
      what: 'the worker waiting on the lock',
      timeoutMs: 20_000,
    });
    globex = send(GLOBEX, orderEvent('t-wait', 'paid', '2026-11-23T10:00:00Z', { event_id: eventId }), 'orders', { prefer: 'wait=10' }).finally(
      () => (globexAnswered = true),
    );
    acme = send(ACME, orderEvent('t-wait', 'created', '2026-11-23T10:00:00Z', { event_id: eventId }), 'orders', { prefer: 'wait=20' });
    // Both consumed (the analytics group writes ClickHouse without PostgreSQL), so both are in the next batch.
    await waitFor(async () => {
      const rs = await iso.clickhouse.query({ query: `SELECT count() AS n FROM events WHERE event_id = '${eventId}'`, format: 'JSONEachRow' });
      return Number(((await rs.json()) as { n: string }[])[0]?.n) === 2;
    }, { what: 'both events consumed', timeoutMs: 20_000 });
  } finally {
    release();
    await lock;
  }
  // Held with globex's failure, acme's event would wait for its retry a minute away.
  const answer = await acme!;
  assert.equal(answer.status, 200, 'acme waited for its own event');
  assert.equal(globexAnswered, false, "globex's wait was still on when acme's event with its id was announced");
  const g = await globex!;
  assert.equal(g.status, 202, "globex's event was not applied; the wait ran out");
  assert.equal(g.json.applied, undefined);
  const rows = await iso.sql<{ tenant: string; status: string }[]>`SELECT tenant, status FROM orders WHERE order_id = 't-wait' ORDER BY tenant`;
  assert.deepEqual(rows.map((r) => [r.tenant, r.status]), [['acme', 'created'], ['globex', 'created']]);
});

test('page views with the same event id, user and URL from two tenants: both in ClickHouse, each counted for its own tenant', async () => {
  const eventId = randomUUID();
  const url = `https://shop.example/${eventId}`;
  const view = { event_id: eventId, user_id: 'same-user', url, occurred_at: '2026-11-23T10:00:00Z' };
  assert.equal((await send(ACME, view, 'page_views')).status, 202);
  assert.equal((await send(GLOBEX, view, 'page_views')).status, 202);
  const counter = (tenant: string) => iso.redis.hget(`${iso.env.REDIS_PREFIX}page_views:${tenant}:by_url`, url);
  await waitFor(async () => (await counter('acme')) === '1' && (await counter('globex')) === '1', { what: 'one view counted per tenant', timeoutMs: 20_000 });

  const rows = async () => {
    await iso.clickhouse.command({ query: 'OPTIMIZE TABLE events FINAL' });
    const rs = await iso.clickhouse.query({ query: `SELECT tenant FROM events FINAL WHERE event_id = '${eventId}' ORDER BY tenant`, format: 'JSONEachRow' });
    return ((await rs.json()) as { tenant: string }[]).map((r) => r.tenant);
  };
  await waitFor(async () => (await rows()).length === 2, { what: 'both rows in ClickHouse', timeoutMs: 20_000 }).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(await rows())}`);
  });
  assert.deepEqual(await rows(), ['acme', 'globex']);
});

test('the same Idempotency-Key and body from two credentials of one tenant, and from another tenant: three requests, three events', async () => {
  const body = orderEvent('t-idem', 'created', '2026-11-23T10:00:00Z');
  const answers = [
    await send(ACME, body, 'orders', { 'idempotency-key': 'shared-key' }),
    await send(ACME_2, body, 'orders', { 'idempotency-key': 'shared-key' }),
    await send(GLOBEX, body, 'orders', { 'idempotency-key': 'shared-key' }),
  ];
  assert.deepEqual(answers.map((a) => [a.status, a.replayed]), [[202, null], [202, null], [202, null]]);
  const ids = answers.map((a) => a.json.event_id as string);
  assert.equal(new Set(ids).size, 3, 'each request has event ids of its own');
  // Each credential's retry is answered from its own entry.
  const retry = await send(ACME_2, body, 'orders', { 'idempotency-key': 'shared-key' });
  assert.deepEqual([retry.replayed, retry.json.event_id], ['true', ids[1]]);

  await waitFor(async () => (await iso.sql`SELECT 1 FROM order_history WHERE order_id = 't-idem'`).length === 3, {
    what: 'all three applied',
    timeoutMs: 20_000,
  });
  const history = await iso.sql<
    { tenant: string; event_id: string }[]
  >`SELECT tenant, event_id::text FROM order_history WHERE order_id = 't-idem' ORDER BY tenant, event_id`;
  assert.deepEqual(history.map((r) => r.tenant), ['acme', 'acme', 'globex']);
});
