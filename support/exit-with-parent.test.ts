/**
 * A process started by the test helpers stops when the process that started it dies (so a
 * crashed test run or benchmark leaves no worker or gateway running behind it).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startProcess } from './processes.ts';
import { waitFor } from './wait-for.ts';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('the child of a SIGKILLed parent stops within seconds', async () => {
  const parent = startProcess('support/fixtures/start-idle-child.ts', {});
  const pid = await waitFor(async () => Number(/child (\d+)/.exec(parent.output())?.[1]) || undefined, { what: 'the child pid', timeoutMs: 20_000 });
  await waitFor(async () => alive(pid), { what: 'the child running', timeoutMs: 10_000 });
  assert.equal(await parent.stop('SIGKILL'), null);
  await waitFor(async () => !alive(pid), { what: 'the orphaned child to stop', timeoutMs: 15_000 });
});
