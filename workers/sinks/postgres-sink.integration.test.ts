/**
 * PostgresSink against a real PostgreSQL (a database of its own): one call applies a batch,
 * and when one event fails it still applies every other event, in order, and names the failed
 * one and the events of its order that must wait behind it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import postgres from 'postgres';
import { isolate, type Isolated, liftFailures, planFailures } from '../../test/helpers.ts';
import { type ConsumedEvent, tenantEventKey } from '../../lib/event.ts';
import { selectOrders } from '../../lib/order-cache.ts';
import { PostgresSink } from './postgres-sink.ts';

let iso: Isolated;
let sink: PostgresSink;

before(async () => {
  iso = await isolate();
  sink = new PostgresSink(iso.sql);
});

after(async () => {
  await iso?.cleanup();
});

let offset = 0;
function order(orderId: string, status: string, minute: number, tenant = 'default'): ConsumedEvent {
  offset++;
  return {
    topic: 'orders',
    partition: 0,
    offset: String(offset),
    key: orderId,
    tenant,
    schemaId: 1,
    value: {
      event_id: randomUUID(),
      received_at: Date.now(),
      order_id: orderId,
      customer_id: 'c-1',
      status,
      amount_cents: 100 + minute,
      currency: 'EUR',
      items: [],
      occurred_at: Date.UTC(2026, 10, 23, 10, minute),
    },
  };
}

/** How the sink names an event in its failures. */
const keyOf = (e: ConsumedEvent) => tenantEventKey(e.tenant, String(e.value.event_id));

const statusOf = async (orderId: string) => (await iso.sql<{ status: string }[]>`SELECT status FROM orders WHERE order_id = ${orderId}`)[0]?.status;
const historyOf = async (orderId: string) =>
  (await iso.sql<{ status: string }[]>`SELECT status FROM order_history WHERE order_id = ${orderId} ORDER BY applied_seq`).map((r) => r.status);

test('a batch is applied whole, and applying it again changes nothing', async () => {
  const batch = [order('pg-a', 'created', 0), order('pg-a', 'paid', 1), order('pg-b', 'created', 0)];
  assert.equal((await sink.applyOrders(batch)).failures.size, 0);
  assert.equal((await sink.applyOrders(batch)).failures.size, 0);
  assert.equal(await statusOf('pg-a'), 'paid');
  assert.deepEqual(await historyOf('pg-a'), ['created', 'paid']);
  assert.deepEqual(await historyOf('pg-b'), ['created']);
});

test('every column reads back as sent, whatever characters the strings hold', async () => {
  // The columns travel as array literals (pg-array.ts): quotes, backslashes, braces, commas and
  // the word NULL must stay text.
  const awkward = ['quote " in', 'back\\slash', '{brace}, comma', 'NULL', ' spaced ', 'tab\tnl\n', 'ünïcödé 🚢', '\\"'];
  const batch = awkward.map((text, i): ConsumedEvent => {
    const e = order(`pg-awk-${text}`, 'created', i, `tenant ${text}`);
    return { ...e, value: { ...e.value, customer_id: text, items: [{ sku: text, quantity: 1, price_cents: i }] } };
  });
  assert.equal((await sink.applyOrders(batch)).failures.size, 0);
  const rows = await selectOrders(iso.sql, batch.map((e) => ({ tenant: e.tenant, orderId: String(e.value.order_id) })));
  assert.equal(rows.length, batch.length);
  for (const e of batch) {
    const row = rows.find((r) => r.tenant === e.tenant && r.order_id === e.value.order_id);
    assert.ok(row, `order of ${JSON.stringify(e.tenant)} is missing`);
    assert.equal(row.customer_id, e.value.customer_id);
    assert.deepEqual(row.items, e.value.items);
    assert.equal(row.event_id, e.value.event_id);
    assert.equal(row.occurred_at.getTime(), e.value.occurred_at);
    assert.equal(row.source_offset, e.offset);
  }
});

test('a failing event is named, the later events of its order wait, and every other event is applied in order', async () => {
  await planFailures(iso.sql, 'pg-bad', 1_000_000, 'created');
  const batch = [
    order('pg-c', 'created', 0),
    order('pg-bad', 'created', 0),
    order('pg-d', 'created', 0),
    order('pg-bad', 'paid', 1),
    order('pg-c', 'paid', 1),
  ];
  const { failures, current } = await sink.applyOrders(batch);
  assert.deepEqual(
    [...failures.entries()].map(([key, f]) => [batch.findIndex((e) => keyOf(e) === key), f.code]),
    [[1, 'P0001'], [3, 'blocked']],
  );
  // The same round trip returns the orders as they stand after the call: pg-bad has no row yet.
  assert.deepEqual(current.map((r) => [r.order_id, r.status, r.event_id]).sort(), [
    ['pg-c', 'paid', batch[4]!.value.event_id],
    ['pg-d', 'created', batch[2]!.value.event_id],
  ]);
  assert.match(failures.get(keyOf(batch[1]!))!.message, /planned failure/);
  assert.deepEqual(await historyOf('pg-c'), ['created', 'paid']);
  assert.equal(await statusOf('pg-c'), 'paid');
  assert.deepEqual(await historyOf('pg-d'), ['created']);
  assert.deepEqual(await historyOf('pg-bad'), [], 'nothing of the failed order was applied');

  // Once the cause is gone, applying the two held events again, in order, works.
  await liftFailures(iso.sql, 'pg-bad');
  assert.equal((await sink.applyOrders([batch[1]!, batch[3]!])).failures.size, 0);
  assert.deepEqual(await historyOf('pg-bad'), ['created', 'paid']);
  assert.equal(await statusOf('pg-bad'), 'paid');
});

test('an event that fails once more after the whole batch failed is applied in the same call, on its second try', async () => {
  // Alone with one other event: the whole batch fails (1), the search tries it alone and its
  // first try fails (2), its second try succeeds.
  await planFailures(iso.sql, 'pg-once', 2, 'created');
  const batch = [order('pg-f', 'created', 0), order('pg-once', 'created', 0)];
  assert.equal((await sink.applyOrders(batch)).failures.size, 0);
  assert.deepEqual(await historyOf('pg-once'), ['created']);
  assert.deepEqual(await historyOf('pg-f'), ['created']);
});

test('two tenants with the same order id have an order each, and read back their own', async () => {
  assert.equal((await sink.applyOrders([order('pg-shared', 'created', 0, 'acme'), order('pg-shared', 'paid', 1, 'globex')])).failures.size, 0);
  // A later event of acme's order does not move globex's.
  const shipped = await sink.applyOrders([order('pg-shared', 'shipped', 2, 'acme')]);
  assert.equal(shipped.failures.size, 0);
  assert.deepEqual(
    shipped.current.map((r) => [r.tenant, r.status, Number(r.amount_cents)]),
    [['acme', 'shipped', 102]],
    "only the batch's own tenant and order come back",
  );
  const rows = await selectOrders(iso.sql, [{ tenant: 'acme', orderId: 'pg-shared' }, { tenant: 'globex', orderId: 'pg-shared' }]);
  assert.deepEqual(rows.map((r) => [r.tenant, r.status]).sort(), [['acme', 'shipped'], ['globex', 'paid']]);
  assert.equal((await selectOrders(iso.sql, [{ tenant: 'initech', orderId: 'pg-shared' }])).length, 0);
});

test("a failing event blocks only its own tenant's order", async () => {
  await planFailures(iso.sql, 'pg-tenant-bad', 1_000_000, 'created');
  const batch = [order('pg-tenant-bad', 'created', 0, 'acme'), order('pg-tenant-ok', 'created', 0, 'globex'), order('pg-tenant-bad', 'paid', 1, 'acme')];
  const { failures } = await sink.applyOrders(batch);
  assert.deepEqual([...failures.values()].map((f) => f.code), ['P0001', 'blocked']);
  assert.deepEqual(await historyOf('pg-tenant-ok'), ['created']);
  await liftFailures(iso.sql, 'pg-tenant-bad');
});

test("a failing event is named with its tenant: another tenant's event with the same event id is applied, not named", async () => {
  await planFailures(iso.sql, 'pg-dup-bad', 1_000_000, 'created');
  const bad = order('pg-dup-bad', 'created', 0, 'acme');
  const ok = order('pg-dup-ok', 'created', 0, 'globex');
  ok.value.event_id = bad.value.event_id;
  const { failures } = await sink.applyOrders([bad, ok]);
  assert.deepEqual([...failures].map(([key, f]) => [key, f.code]), [[tenantEventKey('acme', String(bad.value.event_id)), 'P0001']]);
  assert.equal(failures.has(keyOf(ok)), false);
  assert.deepEqual(await historyOf('pg-dup-ok'), ['created']);
  assert.deepEqual(await historyOf('pg-dup-bad'), []);
  await liftFailures(iso.sql, 'pg-dup-bad');
});

test('in a batch of many, failing events far apart are named, their orders wait across the batch, all else is applied', async () => {
  await planFailures(iso.sql, 'pg-many-bad-a', 1_000_000, 'created');
  await planFailures(iso.sql, 'pg-many-bad-b', 1_000_000, 'created');
  const batch = Array.from({ length: 70 }, (_, i) => order(`pg-many-${i}`, 'created', 0));
  batch[5] = order('pg-many-bad-a', 'created', 0);
  batch[40] = order('pg-many-bad-a', 'paid', 1);
  batch[50] = order('pg-many-bad-b', 'created', 0);
  batch[69] = order('pg-many-bad-b', 'paid', 1);
  const { failures } = await sink.applyOrders(batch);
  const byIndex = new Map([...failures].map(([key, f]) => [batch.findIndex((e) => keyOf(e) === key), f.code]));
  assert.deepEqual([...byIndex].sort((x, y) => x[0] - y[0]), [[5, 'P0001'], [40, 'blocked'], [50, 'P0001'], [69, 'blocked']]);
  const [applied] = await iso.sql<{ n: string }[]>`SELECT count(*) AS n FROM order_history WHERE order_id LIKE 'pg-many-%'`;
  assert.equal(Number(applied!.n), 66);
  await liftFailures(iso.sql, 'pg-many-bad-a');
  await liftFailures(iso.sql, 'pg-many-bad-b');
});

/**
 * Counts every order_history row of `orderPrefix` that gets past the failure trigger
 * (test_fail_planned fires first: triggers fire in name order), failed statements included: a
 * sequence is not rolled back. `rows()` is the count so far; `drop()` removes the trigger.
 */
async function countRowsReached(name: string, orderPrefix: string) {
  await iso.sql.unsafe(`
    CREATE SEQUENCE ${name}_seq;
    CREATE FUNCTION ${name}() RETURNS trigger AS $$ BEGIN PERFORM nextval('${name}_seq'); RETURN NEW; END $$ LANGUAGE plpgsql;
    CREATE TRIGGER ${name} BEFORE INSERT ON order_history FOR EACH ROW WHEN (NEW.order_id LIKE '${orderPrefix}%') EXECUTE FUNCTION ${name}();`);
  return {
    rows: async () => Number((await iso.sql.unsafe(`SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM ${name}_seq`))[0]!.n),
    drop: () => iso.sql.unsafe(`DROP TRIGGER ${name} ON order_history`),
  };
}

test('the search goes on from where a failed statement stopped: three events that keep failing cost each other row at most two tries', async () => {
  const reached = await countRowsReached('test_reach', 'pg-reach-');
  const bad = [59, 199, 329];
  for (const i of bad) await planFailures(iso.sql, `pg-reach-bad-${i}`, 1_000_000, 'created');
  const batch = Array.from({ length: 400 }, (_, i) => order(bad.includes(i) ? `pg-reach-bad-${i}` : `pg-reach-${i}`, 'created', 0));
  const { failures } = await sink.applyOrders(batch);
  assert.deepEqual([...failures.keys()].map((key) => batch.findIndex((e) => keyOf(e) === key)).sort((a, b) => a - b), bad);
  const [applied] = await iso.sql<{ n: string }[]>`SELECT count(*) AS n FROM order_history WHERE order_id LIKE 'pg-reach-%'`;
  assert.equal(Number(applied!.n), 397);
  // Going on from the failing row: 397 applied + 327 reached by the three failed statements
  // (724). Halving alone re-tried shrinking halves around each failure (994 here).
  const rows = await reached.rows();
  assert.ok(rows <= 2 * batch.length, `rows reached: ${rows}`);
  await reached.drop();
  for (const i of bad) await liftFailures(iso.sql, `pg-reach-bad-${i}`);
});

test('with ferry.apply_chunk = 64 a batch goes in ranges: an event that fails once near the end re-does at most the rows of its range', async () => {
  // The setting as an operator would give it to Ferry's role, here for one session's connection.
  const ranged = postgres(iso.env.DATABASE_URL!, { max: 1, onnotice: () => {}, connection: { 'ferry.apply_chunk': '64' } as Record<string, string> });
  const reached = await countRowsReached('test_range', 'pg-range-');
  // Row 450 of 500 fails once (the 8th range, rows 449-512 of the call, holds it at its 2nd row).
  await planFailures(iso.sql, 'pg-range-450', 1, 'created');
  const batch = Array.from({ length: 500 }, (_, i) => order(`pg-range-${i}`, 'created', 0));
  const { failures } = await new PostgresSink(ranged).applyOrders(batch).finally(() => ranged.end());
  assert.equal(failures.size, 0, 'a failure that passes on the next try is no failure');
  const [applied] = await iso.sql<{ n: string }[]>`SELECT count(*) AS n FROM order_history WHERE order_id LIKE 'pg-range-%'`;
  assert.equal(Number(applied!.n), 500);
  // 500 applied and one row re-done (449, rolled back with the failing statement). The whole
  // batch as one statement first (the default) re-does 449 rows here.
  const rows = await reached.rows();
  assert.ok(rows <= 500 + 63, `rows reached: ${rows}`);
  await reached.drop();
  await liftFailures(iso.sql, 'pg-range-450');
});

test('after a failure the rest of the batch goes in ranges: four events that fail once re-do at most a range each after the first', async () => {
  const reached = await countRowsReached('test_rest', 'pg-rest-');
  // Rows 100, 200, 300 and 400 of 500 fail once each. Returns the rows reached, re-done ones included.
  const run = async (name: string, retryChunk: string | undefined) => {
    const bad = [99, 199, 299, 399];
    for (const i of bad) await planFailures(iso.sql, `pg-rest-${name}-${i}`, 1, 'created');
    const session = postgres(iso.env.DATABASE_URL!, {
      max: 1,
      onnotice: () => {},
      connection: (retryChunk === undefined ? {} : { 'ferry.apply_retry_chunk': retryChunk }) as Record<string, string>,
    });
    const before = await reached.rows();
    const batch = Array.from({ length: 500 }, (_, i) => order(`pg-rest-${name}-${i}`, 'created', 0));
    const { failures } = await new PostgresSink(session).applyOrders(batch).finally(() => session.end());
    assert.equal(failures.size, 0, 'failures that pass on the next try are no failures');
    const [applied] = await iso.sql<{ n: string }[]>`SELECT count(*) AS n FROM order_history WHERE order_id LIKE ${`pg-rest-${name}-%`}`;
    assert.equal(Number(applied!.n), 500);
    for (const i of bad) await liftFailures(iso.sql, `pg-rest-${name}-${i}`);
    return (await reached.rows()) - before;
  };
  const inRanges = await run('ranged', undefined);
  const asOneSet = await run('one-set', '0');
  // The first failure re-does the 99 rows before it either way. In 64-row ranges each later one
  // re-does at most 63 (687 here); with the rest as one set, the ~100 rows since the one before (899).
  assert.ok(inRanges <= 500 + 99 + 3 * 63, `rows reached in ranges: ${inRanges}`);
  assert.ok(asOneSet > 500 + 99 + 3 * 63, `rows reached as one set: ${asOneSet}`);
  await reached.drop();
});

test("a session whose first call was rolled back (the search's counter with it) still applies the next batch", async () => {
  // The session-local counter is created by the first call in a session; a transaction that
  // rolls back takes it away again, and the next call must create it anew, not use the old one.
  const session = postgres(iso.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
  try {
    const own = new PostgresSink(session);
    await planFailures(iso.sql, 'pg-session-bad', 1_000_000, 'created');
    await session.begin(async (tx) => {
      const { failures } = await new PostgresSink(tx as unknown as postgres.Sql).applyOrders([
        order('pg-session-a', 'created', 0),
        order('pg-session-bad', 'created', 0),
      ]);
      assert.equal(failures.size, 1);
      const [made] = await tx`SELECT to_regclass('pg_temp.ferry_apply_progress') IS NOT NULL AS made`;
      assert.equal(made!.made, true, 'the first call of the session made the counter');
      await tx`SELECT 1/0`; // rolls the transaction back, counter included
    }).catch((err: { code?: string }) => assert.equal(err.code, '22012'));
    assert.deepEqual(await historyOf('pg-session-a'), [], 'rolled back');
    const [gone] = await session`SELECT to_regclass('pg_temp.ferry_apply_progress') IS NULL AS gone`;
    assert.equal(gone!.gone, true, 'the rollback took the counter away');
    const { failures } = await own.applyOrders([
      order('pg-session-b', 'created', 0),
      order('pg-session-bad', 'created', 0),
      order('pg-session-c', 'created', 0),
    ]);
    assert.deepEqual([...failures.values()].map((f) => f.code), ['P0001']);
    assert.deepEqual([await historyOf('pg-session-b'), await historyOf('pg-session-c')], [['created'], ['created']]);
    await liftFailures(iso.sql, 'pg-session-bad');
  } finally {
    await session.end();
  }
});

// Errors no event can cause fail the whole call, so the worker holds the batch instead of
// pinning them on events and dead-lettering event after event: 40P01 (a deadlock) passes with
// time; 42501 (a privilege) is a deployment an operator puts right (lib/sqlstates.ts).
for (const [code, what] of [['40P01', 'a deadlock'], ['42501', 'a revoked privilege']] as const) {
  test(`${what} (${code}) raised for one row mid-batch fails the whole call instead of being pinned on an event`, async () => {
    const bad = `pg-raise-${code}`;
    await iso.sql.unsafe(`
      CREATE OR REPLACE FUNCTION test_raise() RETURNS trigger AS $$
      BEGIN
        IF NEW.order_id = '${bad}' THEN RAISE EXCEPTION 'simulated' USING ERRCODE = '${code}'; END IF;
        RETURN NEW;
      END $$ LANGUAGE plpgsql;
      CREATE TRIGGER test_raise BEFORE INSERT ON order_history FOR EACH ROW EXECUTE FUNCTION test_raise();`);
    try {
      const before = order(`${bad}-before`, 'created', 0);
      const later = order(`${bad}-after`, 'created', 0);
      await assert.rejects(sink.applyOrders([before, order(bad, 'created', 0), later]), (err: { code?: string }) => err.code === code);
      assert.deepEqual([await historyOf(before.key), await historyOf(later.key)], [[], []], 'the call changed nothing');
    } finally {
      await iso.sql.unsafe('DROP TRIGGER test_raise ON order_history');
    }
  });
}
