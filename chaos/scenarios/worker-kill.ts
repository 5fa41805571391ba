/** 7. A worker SIGKILLed under load and started again, then a second worker joining (a rebalance). */
import type { Scenario } from '../scenario.ts';

export function workerKill(): Scenario {
  return {
    id: '7',
    title: 'worker SIGKILL, second worker joins',
    fault: 'SIGKILL of the worker; a new one started 5 s later, and a second one joining',
    beforeS: 5,
    holdS: 5,
    afterS: 10,
    recovery: 'drain',
    inject: async ({ workers, log }) => {
      const victim = workers.shift()!;
      log(`  killing worker ${victim.child.pid}`);
      await victim.stop('SIGKILL');
    },
    lift: async ({ startWorker }) => {
      startWorker();
      startWorker();
    },
  };
}
