/**
 * The load-test harness against an isolated pipeline: it drives load, follows the events into
 * the sinks and its checker finds every acknowledged event exactly once. Not a speed test:
 * the rates are low and nothing here asserts on throughput or latency.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after, before, test } from 'node:test';
import { isolate, type Isolated } from '../support/isolation.ts';
import { type Proc, startGateway, startWorker } from '../support/processes.ts';
import { waitFor } from '../support/wait-for.ts';
import { runLoadtest, toJson } from './run-loadtest.ts';

let iso: Isolated;
let gateway: { proc: Proc; url: string };
let worker: Proc;

before(async () => {
  iso = await isolate();
  gateway = await startGateway({ ...iso.env, GATEWAY_PROCESSES: '1' });
  worker = startWorker({ ...iso.env, WORKER_PROCESSES: '1' });
});

after(async () => {
  await Promise.all([gateway?.proc.stop(), worker?.stop()]);
  await iso?.cleanup();
});

const sinks = () => ({
  databaseUrl: iso.env.DATABASE_URL!,
  clickhouseUrl: iso.env.CLICKHOUSE_URL!,
  redisUrl: iso.env.REDIS_URL!,
  redisPrefix: iso.env.REDIS_PREFIX!,
});

test('single events at a fixed rate: every acknowledged event is in PostgreSQL, ClickHouse and the Redis counters exactly once', async () => {
  const lines: string[] = [];
  const r = await runLoadtest({
    url: gateway.url,
    connections: 4,
    rate: 60,
    durationS: 3,
    batch: 1,
    ordersRatio: 0.5,
    keys: 20,
    sinks: sinks(),
    drainTimeoutS: 90,
    log: (l) => lines.push(l),
  });
  assert.ok(lines.some((l) => /answers\/s/.test(l)), `progress is shown while running:\n${lines.join('\n')}`);
  assert.ok(r.events.accepted > 50, `events were accepted: ${JSON.stringify(r.load.statusCounts)}\n${worker.output()}`);
  assert.equal(r.load.statusCounts['202'], r.load.answered, 'every answer is a 202');
  assert.equal(r.check.postgres.lost, 0);
  assert.equal(r.check.postgres.duplicates, 0);
  assert.equal(r.check.clickhouse.lost, 0);
  assert.equal(r.check.clickhouse.duplicates, 0);
  assert.equal(r.check.postgres.phantoms + r.check.clickhouse.phantoms, 0);
  assert.ok(r.check.ok, JSON.stringify(r.check, null, 2));
  assert.ok(r.drain.complete);
  assert.equal(r.check.postgres.expected, r.events.acceptedOrders);
  assert.equal(r.check.clickhouse.expected, r.events.accepted);
  assert.ok(r.endToEnd.postgresMs.count > 0 && r.endToEnd.postgresMs.p99 >= r.endToEnd.postgresMs.p50);
  assert.ok(r.load.latencyMs.count > 0);
  // The JSON written by the CLI has the numbers the issue asks for.
  const json = JSON.parse(JSON.stringify(toJson(r))) as Record<string, Record<string, unknown>>;
  for (const k of ['requestsPerS', 'acceptedEventsPerS', 'latencyMs', 'statusCounts']) assert.ok(k in json.load!, k);
  for (const k of ['p50', 'p90', 'p99', 'p999']) assert.ok(k in (json.load!.latencyMs as object), k);
});

test('batches with a small key spread, and the checker notices an event that was never acknowledged', async () => {
  const r = await runLoadtest({
    url: gateway.url,
    connections: 2,
    rate: 20,
    durationS: 2,
    batch: 25,
    ordersRatio: 1,
    keys: 3,
    sinks: sinks(),
    drainTimeoutS: 90,
  });
  assert.ok(r.events.accepted >= 25 * 20, JSON.stringify(r.load.statusCounts));
  assert.ok(r.check.ok, JSON.stringify(r.check, null, 2));
  assert.equal(r.check.orders.rows, 3, 'one orders row per key');

  // A row under this run's tag that no answer named, from no request of the run: a phantom.
  await iso.sql`INSERT INTO order_history (tenant, event_id, order_id, status, amount_cents, occurred_at, source_partition, source_offset, received_at)
                VALUES ('default', gen_random_uuid(), ${`${r.runId}-o999`}, 'created', ${999_999_000}, now(), 0, 0, now())`;
  const { checkSink, outcomeOf } = await import('./checker.ts');
  const { readPostgres } = await import('./sinks.ts');
  const pg = await waitFor(async () => readPostgres(iso.sql, `${r.runId}-`), { what: 'rows' });
  const ids = new Set([...pg.copies.keys()].filter((id) => pg.trace.get(id) !== 999_999));
  const verdict = checkSink(ids, { copies: pg.copies, traceOf: (id) => pg.trace.get(id) }, (seq) => (seq < 1000 ? outcomeOf(202) : undefined));
  assert.equal(verdict.phantoms, 1);
  assert.equal(verdict.ok, false);
});

test('npm run bench:quick runs every quick leg against the real pipeline, and its checkers find nothing lost or duplicated', async () => {
  const out = mkdtempSync(`${tmpdir()}/ferry-bench-`);
  try {
    // What `npm run bench:quick` runs, into a directory of its own. Speed is not asserted: the
    // machine is shared; the run must only complete, check its events, and report every goal.
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/bench.ts', '--quick', '--out', out], {
      cwd: new URL('../', import.meta.url).pathname,
      encoding: 'utf8',
      timeout: 240_000,
    });
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    const result = JSON.parse(readFileSync(`${out}/quick-latest.json`, 'utf8')) as {
      legs: { id: string; valid: boolean; value: number; check?: { ok: boolean; lost: number; duplicates: number; phantoms: number } }[];
      goals: { id: string; value: number }[];
      ratios: { id: string }[];
      peer?: unknown;
    };
    assert.deepEqual(result.legs.map((l) => l.id).sort(), [
      'a-bare',
      'a-gateway',
      'b-bare',
      'b-gateway',
      'd-drain',
      'f-end-to-end',
      's-sustained',
      'u-startup',
    ]);
    for (const id of ['d-drain', 'f-end-to-end']) {
      const leg = result.legs.find((l) => l.id === id)!;
      assert.deepEqual({ id, lost: leg.check!.lost, duplicates: leg.check!.duplicates, phantoms: leg.check!.phantoms, ok: leg.check!.ok }, {
        id,
        lost: 0,
        duplicates: 0,
        phantoms: 0,
        ok: true,
      });
    }
    assert.ok(result.legs.find((l) => l.id === 'd-drain')!.value > 0, 'a drain rate was measured');
    assert.ok(result.legs.find((l) => l.id === 'u-startup')!.value > 0, 'a start-up CPU was measured');
    assert.deepEqual(result.goals.map((g) => g.id), ['1', '2', '3', '4', '5 (single)', '5 (batch)']);
    assert.ok(
      result.goals.filter((g) => ['1', '3', '4'].includes(g.id)).every((g) => Number.isFinite(g.value)),
      'goals 1, 3 and 4 have a value whatever the load',
    );
    assert.deepEqual(result.ratios.map((r) => r.id), ['a', 'b', 'c', 'd', 'd (ceiling)', 'd (whole drain)', 'd (single events)', 'e', '2 (ceiling)']);
    assert.equal(result.peer, undefined, 'the peer is neither installed nor reported when leg g was not asked for');
    const html = readFileSync(`${out}/quick-latest.html`, 'utf8');
    assert.match(html, /<svg /);
    const md = readFileSync(`${out}/quick-latest.md`, 'utf8');
    assert.ok(md.indexOf('| process |') < md.indexOf('| goal |'), 'the CPU table comes first');
    assert.match(md, /\| worker \| \d/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
