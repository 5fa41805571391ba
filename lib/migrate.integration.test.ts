/**
 * The PostgreSQL runner against a real server, each test in databases of its own: a database
 * migrated by the old files (test/fixtures/schema-009.sql) upgrades to the same schema, functions
 * and behaviour as a fresh one, and a repeatable file runs again exactly when its text changes.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import postgres from 'postgres';
import { type ConsumedEvent, tenantEventKey } from './event.ts';
import { migratePostgres, quoteIdent } from './migrate.ts';
import { isTransientSqlState } from './sqlstates.ts';
import { newIsolationId } from '../support/stale-isolations.ts';
import { PostgresSink } from '../workers/sinks/postgres-sink.ts';

const server = 'postgres://postgres@127.0.0.1:5432';
const migrations = new URL('../migrations/postgres/', import.meta.url);
/** Versioned files newer than the fixture: an upgraded database runs these, then the repeatables. */
const after009 = ['010_tenant_scoped_keys'];
const versions = [
  '001_orders',
  '002_history_sequence',
  '003_tenants',
  '004_apply_orders_functions',
  '005_apply_orders_current',
  '006_apply_orders_failure_hint',
  '007_not_the_events_fault',
  '008_apply_orders_in_ranges',
  '009_apply_orders_rest_in_ranges',
  ...after009,
];
const repeatables = ['ferry_apply_orders', 'ferry_apply_orders_current', 'ferry_apply_orders_set', 'ferry_order_ref', 'ferry_transient_sqlstate']
  .map((name) => `repeatable/${name}`);

const made: string[] = [];
/** A database name of its own, named like an isolation so the stale sweep drops it if this process dies. */
function newDatabase(): string {
  const name = `ferry_${newIsolationId()}`;
  made.push(name);
  return `${server}/${name}`;
}

after(async () => {
  const admin = postgres(`${server}/postgres`, { max: 1, onnotice: () => {} });
  try {
    for (const name of made) await admin.unsafe(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
});

async function withSql<T>(url: string, f: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return await f(sql);
  } finally {
    await sql.end();
  }
}

/** Each function in public by signature, as PostgreSQL prints it. */
async function functions(url: string): Promise<Record<string, string>> {
  return withSql(url, async (sql) => {
    const rows = await sql<{ name: string; def: string }[]>`
      SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS name, pg_get_functiondef(p.oid) AS def
      FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace ORDER BY 1`;
    return Object.fromEntries(rows.map((r) => [r.name, r.def]));
  });
}

/** Tables, columns, constraints, indexes and sequences of public, as text. */
async function tables(url: string): Promise<string[]> {
  return withSql(url, async (sql) => {
    const columns = await sql`
      SELECT table_name, column_name, ordinal_position, data_type, character_maximum_length, is_nullable, column_default
      FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`;
    const constraints = await sql`
      SELECT conrelid::regclass::text AS on_table, conname, pg_get_constraintdef(oid) AS def
      FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2`;
    const indexes = await sql`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`;
    const sequences = await sql`
      SELECT sequencename, data_type::text, start_value, increment_by, cache_size FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1`;
    return [...columns, ...constraints, ...indexes, ...sequences].map((r) => JSON.stringify(r));
  });
}

/** A database as the old migrations left it: the fixture, run in a session of its own (it empties search_path). */
async function databaseAt009(): Promise<string> {
  const url = newDatabase();
  await withSql(`${server}/postgres`, (admin) => admin.unsafe(`CREATE DATABASE ${quoteIdent(new URL(url).pathname.slice(1))}`));
  await withSql(url, (sql) => sql.unsafe(readFileSync(new URL('../test/fixtures/schema-009.sql', import.meta.url), 'utf8')));
  return url;
}

let offset = 0;
function order(orderId: string, status: string, minute: number, eventId: string): ConsumedEvent {
  offset++;
  return {
    topic: 'orders',
    partition: 0,
    offset: String(offset),
    key: orderId,
    tenant: 'default',
    schemaId: 1,
    value: {
      event_id: eventId,
      received_at: Date.UTC(2026, 10, 23, 12),
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
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** Applies the same batches through the worker's sink and returns what PostgreSQL holds afterwards. */
async function behaviour(url: string): Promise<unknown> {
  offset = 0;
  return withSql(url, async (sql) => {
    const sink = new PostgresSink(sql);
    const batches = [
      [order('o-1', 'created', 0, id(1)), order('o-1', 'paid', 2, id(2)), order('o-2', 'created', 0, id(3))],
      // An older event arriving late: history gets it, the order does not move back.
      [order('o-1', 'shipped', 1, id(4))],
      // A redelivery changes nothing; an event the orders table refuses fails alone and blocks its order's later event.
      [order('o-2', 'created', 0, id(3)), order('o-3', 'lost', 5, id(5)), order('o-4', 'created', 0, id(6)), order('o-3', 'paid', 1, id(7))],
    ];
    const results = [];
    for (const batch of batches) {
      const { failures, current } = await sink.applyOrders(batch);
      results.push({
        failures: [...failures].map(([key, f]) => [key, f.code]),
        current: current.map((r) => [r.order_id, r.status, r.event_id]).sort(),
      });
    }
    const orders = await sql`SELECT order_id, status, amount_cents, event_id::text, source_offset::text FROM orders ORDER BY order_id`;
    const history = await sql`SELECT order_id, status, event_id::text FROM order_history ORDER BY applied_seq`;
    return { results, orders: [...orders], history: [...history] };
  });
}

test('a database migrated by 001-009 upgrades to what a fresh database is: tables, functions and behaviour', async () => {
  const old = await databaseAt009();
  const before = { functions: await functions(old), tables: await tables(old) };
  assert.deepEqual(await migratePostgres(old), [...after009, ...repeatables], 'no versioned file up to 009 runs again; every function is written once');

  const fresh = newDatabase();
  assert.deepEqual(await migratePostgres(fresh), [...versions, ...repeatables]);

  const upgraded = await functions(old);
  assert.deepEqual(Object.keys(upgraded), Object.keys(before.functions));
  // Changed since 009 on purpose: order_history is keyed per tenant (010), so the set function
  // conflicts on (tenant, event_id); event ids are unique per tenant only, so the two that name
  // failed events return failed_tenant too.
  const changedSince009 = (name: string) => ['ferry_apply_orders_set(', 'ferry_apply_orders(', 'ferry_apply_orders_current('].some((p) => name.startsWith(p));
  const unchanged = (fns: Record<string, string>) => Object.fromEntries(Object.entries(fns).filter(([name]) => !changedSince009(name)));
  assert.deepEqual(unchanged(upgraded), unchanged(before.functions), 'the repeatable files hold the other functions as the old migrations left them');
  assert.deepEqual(await functions(fresh), upgraded);
  const returning = (fns: Record<string, string>) =>
    Object.keys(fns).filter((name) => /RETURNS TABLE\(failed_tenant text, failed_event_id uuid/.test(fns[name]!)).map((name) => name.replace(/\(.*/, ''));
  assert.deepEqual(returning(upgraded), ['ferry_apply_orders', 'ferry_apply_orders_current'], 'the upgrade replaced both (DROP, then CREATE)');
  assert.deepEqual(returning(before.functions), []);

  const repeatablesTable = (rows: string[]) => rows.filter((r) => !r.includes('ferry_schema_repeatables'));
  const historyKey = (rows: string[]) => rows.filter((r) => !r.includes('order_history_pkey') && !r.includes('order_history_tenant_event_id_key'));
  assert.deepEqual(await tables(fresh), await tables(old));
  assert.deepEqual(
    historyKey(repeatablesTable(await tables(old))),
    historyKey(before.tables),
    'the upgrade adds its bookkeeping table and re-keys order_history, nothing else',
  );

  const onFresh = await behaviour(fresh);
  assert.deepEqual(await behaviour(old), onFresh);
  const { orders, history, results } = onFresh as { orders: { order_id: string; status: string }[]; history: unknown[]; results: { failures: unknown[] }[] };
  assert.deepEqual(orders.map((o) => [o.order_id, o.status]), [['o-1', 'paid'], ['o-2', 'created'], ['o-4', 'created']]);
  assert.equal(history.length, 5, 'created, paid, o-2, the late shipped, o-4');
  assert.deepEqual(results[2]!.failures, [[tenantEventKey('default', id(5)), '23514'], [tenantEventKey('default', id(7)), 'blocked']]);
});

test('ferry_transient_sqlstate says what the worker says, for every code it knows and some it does not', async () => {
  const url = newDatabase();
  await migratePostgres(url);
  const codes = [
    '08006',
    '28P01',
    '53300',
    '57P01',
    '58030',
    '40001',
    '40P01',
    '55P03',
    '3D000',
    '42501',
    '42P01',
    '42883',
    '23505',
    '23514',
    '22P02',
    'P0001',
    '40002',
  ];
  const rows = await withSql(url, (sql) =>
    sql<{ code: string; transient: boolean }[]>`
    SELECT code, ferry_transient_sqlstate(code) AS transient FROM unnest(${codes}::text[]) AS code`);
  assert.deepEqual(rows.map((r) => [r.code, r.transient]), codes.map((c) => [c, isTransientSqlState(c)]));
});

test('a repeatable file runs again when its text changes, and only then', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-migrations-'));
  try {
    cpSync(migrations, dir, { recursive: true });
    const copy = pathToFileURL(`${dir}/`);
    const url = newDatabase();
    assert.deepEqual(await migratePostgres(url, { dir: copy }), [...versions, ...repeatables]);
    assert.deepEqual(await migratePostgres(url, { dir: copy }), [], 'nothing changed, nothing runs');

    const file = join(dir, 'repeatable', 'ferry_order_ref.sql');
    writeFileSync(file, readFileSync(file, 'utf8').replace("|| ':' ||", "|| '/' ||"));
    assert.deepEqual(await migratePostgres(url, { dir: copy }), ['repeatable/ferry_order_ref']);
    const [row] = await withSql(url, (sql) => sql<{ ref: string }[]>`SELECT ferry_order_ref('t', 'o') AS ref`);
    assert.equal(row!.ref, '1/to');
    assert.deepEqual(await migratePostgres(url, { dir: copy }), []);

    writeFileSync(join(dir, 'repeatable', 'ferry_bad.sql'), 'SELECT ${no_such_value}');
    await assert.rejects(migratePostgres(url, { dir: copy }), /ferry_bad\.sql: no placeholder \$\{no_such_value\}/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
