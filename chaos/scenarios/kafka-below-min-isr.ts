/**
 * 3. Two of three brokers SIGKILLed: below min.insync.replicas (and, with combined nodes, the
 * controller quorum) no write may be acknowledged; the gateway answers 503 with Retry-After.
 * One broker returns after 15 s and writes resume by themselves; the other returns after the run.
 */
import type { KafkaCluster } from '../../support/kafka-cluster.ts';
import type { Scenario } from '../scenario.ts';

export function belowMinIsr(): Scenario {
  let killed: number[] = [];
  let cluster: KafkaCluster | undefined;
  return {
    id: '3',
    title: 'two of three brokers down',
    fault: 'SIGKILL of two brokers (one leads orders partition 0) for 15 s; one restarted, the other after the run',
    beforeS: 5,
    holdS: 15,
    afterS: 15,
    recovery: 'writes',
    belowMinIsr: ['fault', 'lift'],
    setup: async (ctx) => {
      cluster = ctx.cluster;
    },
    inject: async ({ cluster, iso, log }) => {
      const leader = (await cluster.leaders(iso.topic('orders')))[0]!.leader;
      killed = [leader, leader === 3 ? 1 : leader + 1];
      log(`  killing nodes ${killed.join(' and ')}`);
      await Promise.all(killed.map((n) => cluster.kill(n)));
    },
    lift: async ({ cluster }) => {
      await cluster.restart(killed[0]!);
    },
    teardown: async () => {
      if (killed[1]) await cluster?.restart(killed[1]);
    },
  };
}
