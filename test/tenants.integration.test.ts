/**
 * Tenants end to end: the gateway stamps each record with the credential's tenant, the worker
 * keeps each tenant's orders apart, and a tenant reads back only its own, even when two
 * tenants use the same order id.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { isolate, orderEvent, postJson, startGateway, startWorker, waitFor, type Isolated, type Proc } from './helpers.ts';

const newKey = () => `fry_${randomBytes(24).toString('base64url')}`;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const ACME = newKey();
const GLOBEX = newKey();
const API_KEYS = JSON.stringify([
  { id: 'acme', tenant: 'acme', sha256: sha(ACME), scopes: ['write:orders', 'read:orders'] },
  { id: 'globex', tenant: 'globex', sha256: sha(GLOBEX), scopes: ['write:orders', 'read:orders'] },
]);

let iso: Isolated;
let gateway: { proc: Proc; url: string };
let worker: Proc;

before(async () => {
  iso = await isolate();
  gateway = await startGateway({ ...iso.env, FERRY_API_KEYS: API_KEYS });
  worker = startWorker(iso.env);
});

after(async () => {
  await Promise.all([gateway?.proc.stop(), worker?.stop()]);
  await iso?.cleanup();
});


async function get(key: string, orderId: string) {
  const res = await fetch(`${gateway.url}/v1/orders/${orderId}`, { headers: { 'x-api-key': key } });
  return { status: res.status, body: res.status === 200 ? ((await res.json()) as { status: string; customer_id: string }) : undefined };
}

test('two tenants with the same order id each keep and read their own order', async () => {
  assert.equal((await postJson(`${gateway.url}/v1/events/orders`, orderEvent('t-1', 'created', '2026-11-23T10:00:00Z', { customer_id: 'acme-c' }), { 'x-api-key': ACME })).status, 202);
  assert.equal((await postJson(`${gateway.url}/v1/events/orders`, orderEvent('t-1', 'paid', '2026-11-23T10:05:00Z', { customer_id: 'globex-c' }), { 'x-api-key': GLOBEX })).status, 202);
  assert.equal((await postJson(`${gateway.url}/v1/events/orders`, orderEvent('t-only-globex', 'created', '2026-11-23T10:00:00Z'), { 'x-api-key': GLOBEX })).status, 202);

  await waitFor(async () => (await iso.sql`SELECT 1 FROM order_history WHERE order_id IN ('t-1', 't-only-globex')`).length === 3, { what: 'all three applied', timeoutMs: 60_000 });
  const rows = await iso.sql<{ tenant: string; status: string; customer_id: string }[]>`SELECT tenant, status, customer_id FROM orders WHERE order_id = 't-1' ORDER BY tenant`;
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
