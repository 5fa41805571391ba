/**
 * The production build (scripts/build.ts) runs: the bundled gateway and worker carry an order
 * from HTTP to PostgreSQL, and the bundled migrate finds the SQL files from dist/. These are the
 * files the Procfile starts, run as it runs them: plain `node`, no TypeScript loader.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { build, builtPath } from '../scripts/build.ts';
import { isolate, type Isolated, onMinute, orderEvent, postJson, type Proc, startGateway, startProcess, startWorker, waitFor } from './helpers.ts';

let iso: Isolated;

before(async () => {
  // The current source, whatever dist/ held before.
  await build();
  iso = await isolate();
});

after(async () => {
  await iso?.cleanup();
});

/** The command lines of `pid`'s children. */
function children(pid: number): string[] {
  return execFileSync('ps', ['--ppid', String(pid), '-o', 'args='], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

test('the built gateway and worker, two processes each, carry an order to PostgreSQL', async () => {
  const gateway = await startGateway({ ...iso.env, GATEWAY_PROCESSES: '2' }, builtPath('gateway/main.ts'));
  const worker: Proc = startWorker({ ...iso.env, WORKER_PROCESSES: '2' }, builtPath('workers/main.ts'));
  try {
    // No TypeScript loader anywhere; the supervisors fork children that run the same bundle.
    for (const [proc, file] of [[gateway.proc, 'dist/gateway/main.js'], [worker, 'dist/workers/main.js']] as const) {
      assert.ok(!proc.child.spawnargs.includes('tsx') && proc.child.spawnargs.at(-1) === file, proc.child.spawnargs.join(' '));
      await waitFor(async () => children(proc.child.pid!).filter((c) => c.includes(file)).length === 2, { what: `two children running ${file}` });
      for (const c of children(proc.child.pid!)) assert.doesNotMatch(c, /tsx/);
    }
    const a = await postJson(`${gateway.url}/v1/events/orders`, orderEvent('built-1', 'paid', onMinute(0), { amount_cents: 4242 }));
    assert.equal(a.status, 202, a.text);
    await waitFor(async () => (await iso.sql`SELECT 1 FROM orders WHERE order_id = 'built-1' AND amount_cents = 4242`).length === 1, {
      what: `order built-1 in PostgreSQL\n${worker.output()}`,
      timeoutMs: 30_000,
    });
  } finally {
    const codes = await Promise.all([gateway.proc.stop(), worker.stop()]);
    assert.deepEqual(codes, [0, 0], `built gateway and worker exit 0 on SIGTERM\n${gateway.proc.output()}\n${worker.output()}`);
  }
});

test('the built migrate reads the SQL files from the project root', async () => {
  // Forgetting the repeatables' checksums makes migrate apply them again from migrations/.
  await iso.sql`DELETE FROM ferry_schema_repeatables`;
  const proc = startProcess(builtPath('cli/migrate.ts'), iso.env);
  assert.equal(await proc.exited, 0, proc.output());
  assert.match(proc.output(), /postgres \[repeatable\/ferry_apply_orders, [^\]]*repeatable\/ferry_transient_sqlstate\]/);
  assert.match(proc.output(), /topics created: \[none\]/);
});
