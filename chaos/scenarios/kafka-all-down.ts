/**
 * 4. All of Kafka down for 30 s: every request gets a 503 within the delivery timeout, /readyz
 * says not ready, and every Ferry process recovers by itself when the brokers return.
 */
import type { Scenario } from '../scenario.ts';

export function kafkaDown(): Scenario {
  return {
    id: '4',
    title: 'all of Kafka down 30 s',
    fault: 'SIGKILL of all three brokers; restarted 30 s later',
    beforeS: 5,
    holdS: 30,
    afterS: 20,
    recovery: 'writes',
    belowMinIsr: ['fault', 'lift'],
    kafkaDown: ['fault', 'lift'],
    inject: async ({ cluster }) => {
      await Promise.all([1, 2, 3].map((n) => cluster.kill(n)));
    },
    lift: async ({ cluster }) => {
      // No node can finish starting alone: launch all, then wait.
      await Promise.all([1, 2, 3].map((n) => cluster.restart(n, false)));
      await cluster.start();
    },
  };
}
