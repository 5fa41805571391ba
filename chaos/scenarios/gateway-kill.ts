/**
 * 5. SIGKILL of a gateway process under load. The gateway runs two processes; the supervisor
 * starts a new one while the other serves. Answered 2xx must land; cut-off requests at most once.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { waitFor } from '../../support/wait-for.ts';
import type { Scenario } from '../scenario.ts';

const run = promisify(execFile);

async function children(pid: number): Promise<number[]> {
  const { stdout } = await run('pgrep', ['-P', String(pid)]).catch(() => ({ stdout: '' }));
  return stdout.split('\n').filter(Boolean).map(Number);
}

export function gatewayKill(): Scenario {
  let before: number[] = [];
  return {
    id: '5',
    title: 'gateway process SIGKILL',
    fault: 'SIGKILL of one of two gateway processes; its supervisor starts a new one',
    beforeS: 5,
    holdS: 2,
    afterS: 8,
    gatewayProcesses: 2,
    recovery: 'writes',
    inject: async ({ gateway, log }) => {
      before = await children(gateway.proc.child.pid!);
      if (before.length < 2) throw new Error(`expected two gateway processes, found ${before.length}`);
      log(`  killing gateway process ${before[0]}`);
      process.kill(before[0]!, 'SIGKILL');
    },
    lift: async ({ gateway }) => {
      await waitFor(async () => {
        const now = await children(gateway.proc.child.pid!);
        return now.length === 2 && !now.includes(before[0]!);
      }, { what: 'the supervisor to replace the gateway process', timeoutMs: 30_000 });
    },
  };
}
