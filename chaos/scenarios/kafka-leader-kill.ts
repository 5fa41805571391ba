/** 1. SIGKILL of the broker leading a partition being written; it is started again later. */
import type { Scenario } from '../scenario.ts';

export function leaderKill(): Scenario {
  let victim = 0;
  return {
    id: '1',
    title: 'partition leader SIGKILL',
    fault: 'SIGKILL of the broker leading orders partition 0; restarted 10 s later',
    beforeS: 5,
    holdS: 10,
    afterS: 10,
    recovery: 'writes',
    inject: async ({ cluster, iso, log }) => {
      victim = (await cluster.leaders(iso.topic('orders')))[0]!.leader;
      log(`  killing node ${victim}, leader of ${iso.topic('orders')}-0`);
      await cluster.kill(victim);
    },
    lift: async ({ cluster }) => {
      await cluster.restart(victim);
    },
  };
}
