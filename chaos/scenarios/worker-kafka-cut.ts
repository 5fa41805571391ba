/**
 * 10. The network between the worker and Kafka cut for 30 s. A proxy in front of the bootstrap
 * address alone would not do: clients connect to the addresses brokers advertise. The worker
 * bootstraps through the cluster's PROXIED listener, whose advertised addresses are the proxies
 * below, so every connection it makes (consumers, DLQ producer) goes through one the runner cuts.
 */
import { type FaultProxy, faultProxy } from '../../support/fault-proxy.ts';
import type { Scenario } from '../scenario.ts';

export function workerKafkaCut(): Scenario {
  let proxies: FaultProxy[] = [];
  return {
    id: '10',
    title: 'worker to Kafka network cut 30 s',
    fault: "every connection between the worker and the three brokers cut for 30 s (TCP proxies at the brokers' advertised PROXIED addresses)",
    beforeS: 5,
    holdS: 30,
    afterS: 5,
    recovery: 'drain',
    backlogGrows: ['fault', 'lift'],
    setup: async ({ cluster }) => {
      proxies = await Promise.all(cluster.proxiedListeners.map((l) => faultProxy(l.brokerPort, '127.0.0.1', l.advertisedPort)));
    },
    workerEnv: () => ({ KAFKA_BROKERS: proxies.map((p) => `127.0.0.1:${p.port}`).join(',') }),
    inject: async () => {
      await Promise.all(proxies.map((p) => p.cut()));
    },
    lift: async () => {
      await Promise.all(proxies.map((p) => p.restore()));
    },
    teardown: async () => {
      await Promise.all(proxies.map((p) => p.close()));
      proxies = [];
    },
  };
}
