/**
 * The Deno edge gateway with REDIS_URL set has what the Node gateway has on top of Kafka:
 * `Prefer: wait` (with the real worker applying), GET /v1/orders from the read model,
 * Idempotency-Key replays, and rate limits.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type EdgeStack, isolate, type Isolated, onMinute, orderEvent, postJson, type Proc, startEdgeStack, startWorker, waitFor } from './helpers.ts';

let iso: Isolated;
let worker: Proc;
let stack: EdgeStack;
let edgeUrl: string;

before(async () => {
  iso = await isolate();
  worker = startWorker(iso.env);
  // iso.env carries REDIS_URL and DATABASE_URL: the edge gets its Redis and PostgreSQL parts.
  stack = await startEdgeStack(iso, { RATE_LIMIT_PER_SECOND: '20', RATE_LIMIT_BURST: '40' });
  edgeUrl = stack.url;
  // The worker has joined its groups once an event posted without waiting is applied.
  const warm = await postJson(`${edgeUrl}/v1/events/orders`, orderEvent('warm-up', 'created', onMinute(0)));
  assert.equal(warm.status, 202, JSON.stringify(warm.json));
  await waitFor(async () => (await iso.sql`SELECT 1 FROM orders WHERE order_id = 'warm-up'`).length === 1, { what: 'worker applying', timeoutMs: 90_000 });
});

after(async () => {
  await Promise.all([stack?.stop(), worker?.stop()]);
  await iso?.cleanup();
});

test('Prefer: wait on the edge answers 200 with the order once the worker applied it, and GET reads it back', async () => {
  const created = await postJson(`${edgeUrl}/v1/events/orders`, orderEvent('e-1', 'created', onMinute(1)), { prefer: 'wait=20' });
  assert.equal(created.status, 200, `${JSON.stringify(created.json)}\n${stack.output()}`);
  assert.equal(created.headers.get('preference-applied'), 'wait=20');
  assert.equal((created.json.order as Record<string, unknown>).status, 'created');
  const [row] = await iso.sql<{ event_id: string }[]>`SELECT event_id FROM orders WHERE order_id = 'e-1'`;
  assert.equal(row!.event_id, created.json.event_id);

  const res = await fetch(`${edgeUrl}/v1/orders/e-1`);
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { event_id: string }).event_id, created.json.event_id);
  assert.equal((await fetch(`${edgeUrl}/v1/orders/e-none`)).status, 404);
});

test('an Idempotency-Key retry on the edge is replayed, and the event is applied once', async () => {
  const first = await postJson(`${edgeUrl}/v1/events/orders`, orderEvent('e-2', 'created', onMinute(2)), { 'idempotency-key': 'edge-key-1' });
  const again = await postJson(`${edgeUrl}/v1/events/orders`, orderEvent('e-2', 'created', onMinute(2)), { 'idempotency-key': 'edge-key-1' });
  assert.equal(first.status, 202, JSON.stringify(first.json));
  assert.equal(again.status, 202);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  assert.equal(again.json.event_id, first.json.event_id);
  // The answer lives in the cache Redis, under the isolation's prefix.
  assert.ok((await iso.redis.keys(`${iso.env.REDIS_PREFIX}idem*`)).length >= 1);
  await waitFor(async () => (await iso.sql`SELECT 1 FROM order_history WHERE order_id = 'e-2'`).length === 1, { what: 'e-2 applied' });
  const history = await iso.sql`SELECT event_id FROM order_history WHERE order_id = 'e-2'`;
  assert.equal(history.length, 1);
});

test('the edge enforces rate limits: a burst over the budget gets 429 with Retry-After', async () => {
  const answers = await Promise.all(Array.from({ length: 80 }, () => fetch(`${edgeUrl}/v1/orders/e-none`)));
  const codes = answers.map((r) => r.status);
  const limited = answers.filter((r) => r.status === 429);
  assert.ok(limited.length > 0, `no 429 among ${codes.join(',')}`);
  assert.ok(codes.filter((c) => c === 404).length >= 30, codes.join(','));
  assert.ok(Number(limited[0]!.headers.get('retry-after')) >= 1);
});
