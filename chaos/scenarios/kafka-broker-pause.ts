/** 2. SIGSTOP of one broker (the leader of a written partition) for 20 s, then SIGCONT. */
import type { Scenario } from '../scenario.ts';

export function brokerPause(): Scenario {
  let victim = 0;
  return {
    id: '2',
    title: 'broker SIGSTOP 20 s',
    fault: 'SIGSTOP of the broker leading orders partition 0 for 20 s, then SIGCONT',
    beforeS: 5,
    holdS: 20,
    afterS: 10,
    recovery: 'writes',
    inject: async ({ cluster, iso, log }) => {
      victim = (await cluster.leaders(iso.topic('orders')))[0]!.leader;
      log(`  pausing node ${victim}`);
      await cluster.pause(victim);
    },
    lift: async ({ cluster }) => {
      await cluster.resume(victim);
    },
  };
}
