/**
 * The Node gateway reading orders while PostgreSQL is unreachable (its connection through a
 * proxy this test cuts): 503 with Retry-After, not a 500, and reads work again once it is back.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type CuttableProxy, cuttableProxy, isolate, type Isolated, type Proc, startGateway, waitFor } from './helpers.ts';

let iso: Isolated;
let pgProxy: CuttableProxy;
let gateway: { proc: Proc; url: string };

before(async () => {
  iso = await isolate();
  pgProxy = await cuttableProxy(5432);
  const url = new URL(iso.env.DATABASE_URL!);
  url.port = String(pgProxy.port);
  gateway = await startGateway({ ...iso.env, DATABASE_URL: url.toString() });
});

after(async () => {
  await gateway?.proc.stop();
  await pgProxy?.close();
  await iso?.cleanup();
});

test('an order read while PostgreSQL is unreachable answers 503 with Retry-After, and 404 again once it is back', async () => {
  // Never written, so never cached: every read goes to PostgreSQL.
  assert.equal((await fetch(`${gateway.url}/v1/orders/outage-1`)).status, 404);
  await pgProxy.cut();
  const res = await waitFor(async () => {
    const r = await fetch(`${gateway.url}/v1/orders/outage-1`, { signal: AbortSignal.timeout(20_000) });
    return r.status === 404 ? undefined : r;
  }, { what: 'a read that finds PostgreSQL gone', timeoutMs: 30_000 });
  assert.equal(res.status, 503, await res.clone().text());
  assert.equal(res.headers.get('retry-after'), '1');
  assert.equal(((await res.json()) as { title: string }).title, 'Read model unavailable');
  await pgProxy.restore();
  await waitFor(async () => (await fetch(`${gateway.url}/v1/orders/outage-1`)).status === 404, {
    what: 'reads back after PostgreSQL returns',
    timeoutMs: 30_000,
  });
});
