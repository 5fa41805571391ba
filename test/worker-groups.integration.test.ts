/**
 * WORKER_GROUPS through the real services: a worker of the read-model group alone fills
 * PostgreSQL and leaves ClickHouse to another; a worker of the analytics group alone then
 * writes every event to ClickHouse once and applies nothing to the read model.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freePort, isolate, type Isolated, orderEvent, pool, postJson, type Proc, startGateway, startWorker, waitFor } from './helpers.ts';

let iso: Isolated;
let gateway: { proc: Proc; url: string };
const workers: Proc[] = [];

before(async () => {
  iso = await isolate();
  gateway = await startGateway(iso.env);
});

after(async () => {
  await Promise.all([gateway?.proc.stop(), ...workers.map((w) => w.stop())]);
  await iso?.cleanup();
});

async function appliedCounter(metricsPort: number, group: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('ferry_worker_events_applied_total{') && line.includes(`group="${group}"`)) n += Number(line.split(' ').pop());
  }
  return n;
}

test('the read-model and analytics groups run in workers of their own', async () => {
  const readModelPort = await freePort();
  workers.push(startWorker({ ...iso.env, WORKER_GROUPS: 'read-model', WORKER_METRICS_PORT: String(readModelPort) }));
  const ids = Array.from({ length: 30 }, (_, i) => `groups-${i}`);
  await pool(
    ids,
    8,
    async (id) => assert.equal((await postJson(`${gateway.url}/v1/events/orders`, orderEvent(id, 'created', '2026-11-23T10:00:00Z'))).status, 202),
  );

  const inPostgres = async () => Number((await iso.sql<{ n: string }[]>`SELECT count(*) AS n FROM order_history WHERE order_id LIKE 'groups-%'`)[0]!.n);
  const inClickhouse = async (final: boolean) => {
    const rs = await iso.clickhouse.query({
      query: `SELECT count() AS n FROM events ${final ? 'FINAL' : ''} WHERE key LIKE 'groups-%'`,
      format: 'JSONEachRow',
    });
    return Number((await rs.json<{ n: string }>())[0]!.n);
  };
  await waitFor(async () => (await inPostgres()) === ids.length, { what: 'every order in PostgreSQL from the read-model worker', timeoutMs: 30_000 });
  assert.equal(await inClickhouse(false), 0, 'the read-model worker wrote nothing to ClickHouse');
  assert.equal(await appliedCounter(readModelPort, 'analytics'), 0);
  // Where end-to-end time goes: the age of each batch's oldest record when its apply started.
  const text = await (await fetch(`http://127.0.0.1:${readModelPort}/metrics`)).text();
  const sample = (name: string) => Number(text.split('\n').find((l) => l.startsWith(`${name}{group="read-model"}`))?.split(' ').pop());
  const batches = sample('ferry_worker_batch_wait_seconds_count');
  assert.ok(batches >= 1, `batch wait observed (${batches})`);
  const meanWait = sample('ferry_worker_batch_wait_seconds_sum') / batches;
  assert.ok(meanWait >= 0 && meanWait < 30, `mean batch wait ${meanWait} s`);

  const analyticsPort = await freePort();
  workers.push(startWorker({ ...iso.env, WORKER_GROUPS: 'analytics', WORKER_METRICS_PORT: String(analyticsPort) }));
  await waitFor(async () => (await inClickhouse(true)) === ids.length, { what: 'every event in ClickHouse from the analytics worker', timeoutMs: 30_000 });
  assert.equal(await inClickhouse(false), ids.length, 'each event inserted once');
  await waitFor(async () => (await appliedCounter(analyticsPort, 'analytics')) === ids.length, {
    what: 'the analytics worker counted every event',
    timeoutMs: 10_000,
  });
  assert.equal(await appliedCounter(analyticsPort, 'read-model'), 0, 'the analytics worker applied nothing to the read model');
  assert.equal(await inPostgres(), ids.length);
});

test('an unknown WORKER_GROUPS stops the worker at start with the variable named', async () => {
  const w = startWorker({ ...iso.env, WORKER_GROUPS: 'read-model,clickhouse', WORKER_METRICS_PORT: '0' });
  workers.push(w);
  assert.equal(await w.exited, 2);
  assert.match(w.output(), /WORKER_GROUPS: must list one or both of read-model, analytics/);
});
