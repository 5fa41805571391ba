/**
 * A PostgreSQL role that may not create temporary objects (a hardened database that revoked
 * TEMPORARY from PUBLIC): the worker refuses to start, naming what to grant; a role that loses
 * it while running gets its batches held (an outage), never dead-lettered.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import postgres from 'postgres';
import { quoteIdent } from '../lib/migrate.ts';
import { isOutage } from '../workers/errors.ts';
import type { ConsumedEvent } from '../lib/event.ts';
import { checkPostgresRole, UnsafePostgresRoleError } from '../workers/postgres-role.ts';
import { PostgresSink } from '../workers/sinks/postgres-sink.ts';
import { isolate, type Isolated, startWorker } from './helpers.ts';

let iso: Isolated;
let role: string;
let roleUrl: string;

before(async () => {
  iso = await isolate();
  // Named like the isolation, so its cleanup (and the stale sweep) drops it too.
  role = `ferry_${iso.id}`;
  const db = `ferry_${iso.id}`;
  await iso.sql.unsafe(`
    CREATE ROLE ${quoteIdent(role)} LOGIN;
    GRANT USAGE ON SCHEMA public TO ${quoteIdent(role)};
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${quoteIdent(role)};
    GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO ${quoteIdent(role)};
    REVOKE TEMPORARY ON DATABASE ${quoteIdent(db)} FROM PUBLIC;`);
  const url = new URL(iso.env.DATABASE_URL!);
  url.username = role;
  roleUrl = url.toString();
});

after(async () => {
  await iso?.cleanup();
});

function order(orderId: string): ConsumedEvent {
  return {
    topic: 'orders',
    partition: 0,
    offset: '1',
    key: orderId,
    tenant: 'default',
    schemaId: 1,
    value: {
      event_id: randomUUID(),
      received_at: Date.now(),
      order_id: orderId,
      customer_id: 'c-1',
      status: 'created',
      amount_cents: 100,
      currency: 'EUR',
      items: [],
      occurred_at: Date.now(),
    },
  };
}

test('without TEMPORARY the check names the variable and the grant, and the worker exits 2', async () => {
  const sql = postgres(roleUrl, { max: 1, onnotice: () => {} });
  try {
    await assert.rejects(
      checkPostgresRole(sql),
      (err: Error) => err instanceof UnsafePostgresRoleError && /DATABASE_URL/.test(err.message) && /GRANT TEMPORARY/.test(err.message),
    );
  } finally {
    await sql.end();
  }
  const worker = startWorker({ ...iso.env, DATABASE_URL: roleUrl });
  const code = await Promise.race([worker.exited, new Promise((r) => setTimeout(() => r('still running'), 60_000))]);
  await worker.stop();
  assert.equal(code, 2, worker.output());
  assert.match(worker.output(), /may not create temporary objects/);
});

test('a role that lost TEMPORARY while running: the call fails whole as an outage and applies nothing', async () => {
  const sql = postgres(roleUrl, { max: 1, onnotice: () => {} });
  try {
    const err = await new PostgresSink(sql).applyOrders([order('role-a'), order('role-b')]).then(() => undefined, (e: unknown) => e);
    assert.ok(err, 'the call failed');
    assert.equal((err as { code?: string }).code, '42501');
    assert.equal(isOutage(err), true, 'held, not pinned on the events');
    const [row] = await iso.sql<{ n: string }[]>`SELECT count(*) AS n FROM order_history WHERE order_id LIKE 'role-%'`;
    assert.equal(Number(row!.n), 0);
  } finally {
    await sql.end();
  }
});

test('with TEMPORARY granted the check passes and the same role applies the batch', async () => {
  await iso.sql.unsafe(`GRANT TEMPORARY ON DATABASE ${quoteIdent(`ferry_${iso.id}`)} TO ${quoteIdent(role)}`);
  const sql = postgres(roleUrl, { max: 1, onnotice: () => {} });
  try {
    await checkPostgresRole(sql);
    const { failures } = await new PostgresSink(sql).applyOrders([order('role-c'), order('role-d')]);
    assert.equal(failures.size, 0);
    // The call returned after its commit: the rows are there, no waiting needed.
    const [row] = await iso.sql<{ n: string }[]>`SELECT count(*) AS n FROM order_history WHERE order_id IN ('role-c', 'role-d')`;
    assert.equal(Number(row!.n), 2);
  } finally {
    await sql.end();
  }
});
