/**
 * What a fault scenario is, and what it gets to work with. A scenario injects one fault under
 * steady load, lifts it, and may add checks of its own; chaos/run-scenario.ts does the rest
 * (load, drain, the Jepsen-style checker of bench/checker.ts, the table row).
 */
import type { Isolated } from '../support/isolation.ts';
import type { KafkaCluster } from '../support/kafka-cluster.ts';
import type { Proc } from '../support/processes.ts';

export interface ChaosContext {
  cluster: KafkaCluster;
  iso: Isolated;
  /** The gateway the load goes to (its primary, when it runs several processes; the edge with `edge`). */
  gateway: { proc: Proc; url: string };
  /** With `edge`: the producer service the edge forwards to, and how to start it again on its port. */
  producerService?: { proc: Proc; url: string; restart: () => Promise<void> };
  /** Workers running now; a scenario may add and kill some. */
  workers: Proc[];
  /** Starts a worker with the run's environment (plus `env`) and tracks it. */
  startWorker: (env?: Record<string, string>) => Proc;
  /** Notes a moment of the run (seconds since the load started go into the report). */
  mark: (label: string) => void;
  log: (line: string) => void;
  sleep: (ms: number) => Promise<void>;
}

export interface Scenario {
  /** The number in the list, with a letter for variants (8a..8d). */
  id: string;
  title: string;
  /** One line: what is done to what. */
  fault: string;
  /** Seconds of load before the fault, with it, and after it is lifted. */
  beforeS: number;
  holdS: number;
  afterS: number;
  /** Gateway processes (several: one can die while the others serve). @defaultValue 1 */
  gatewayProcesses?: number;
  /** The load goes to the Deno edge gateway, in front of a producer service, instead of the Node gateway. */
  edge?: boolean;
  /** Extra environment of the gateway and of every worker, read after `setup`. */
  gatewayEnv?: () => Record<string, string>;
  workerEnv?: () => Record<string, string>;
  /** Before the stack starts (proxies, a private Redis); its result is undone by `teardown`. */
  setup?: (ctx: Pick<ChaosContext, 'cluster' | 'iso' | 'log'>) => Promise<void>;
  teardown?: () => Promise<void>;
  inject: (ctx: ChaosContext) => Promise<void>;
  lift: (ctx: ChaosContext) => Promise<void>;
  /**
   * How recovery is timed: `writes` from the lift to the last failed answer or the first 2xx,
   * whichever is later (faults on the write path); `drain` from the lift to every acknowledged
   * event in the sinks (faults behind Kafka).
   */
  recovery: 'writes' | 'drain';
  /** Marks between which fewer than min.insync.replicas brokers run: no 2xx may be answered then. */
  belowMinIsr?: [from: string, to: string];
  /** Marks between which acknowledged events pile up unapplied (the workers cannot consume). */
  backlogGrows?: [from: string, to: string];
  /** Marks between which Kafka is entirely down: /readyz must say not ready. */
  kafkaDown?: [from: string, to: string];
}
