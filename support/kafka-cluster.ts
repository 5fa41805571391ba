/**
 * The three-node Kafka cluster of scripts/kafka-cluster.sh, driven from TypeScript (the fault
 * runner and its tests): one implementation, so `npm run up -- --brokers 3` and the tests run the
 * same cluster. Node N has node.id N and listens on port + N - 1 (and port + 200 + N - 1, the
 * PROXIED listener: see proxiedListeners).
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import type { KafkaJS as KafkaJSTypes } from '@confluentinc/kafka-javascript';
import { waitFor } from './wait-for.ts';

const require = createRequire(import.meta.url);
const { KafkaJS } = require('@confluentinc/kafka-javascript') as { KafkaJS: typeof KafkaJSTypes };
const run = promisify(execFile);
const root = new URL('../', import.meta.url).pathname;

export const CLUSTER_NODES = [1, 2, 3] as const;

export interface KafkaClusterOptions {
  /** Data, logs and pid files. @defaultValue .data/kafka-cluster */
  dir?: string;
  /** First broker port; controllers are 100 above. @defaultValue 19092 */
  port?: number;
}

export class KafkaCluster {
  readonly dir: string;
  readonly port: number;

  constructor(options: KafkaClusterOptions = {}) {
    this.dir = options.dir ?? `${root}.data/kafka-cluster`;
    this.port = options.port ?? 19092;
  }

  get brokers(): string[] {
    return CLUSTER_NODES.map((n) => `127.0.0.1:${this.port + n - 1}`);
  }

  /**
   * Node N's PROXIED listener: the broker listens on `brokerPort` and advertises `advertisedPort`,
   * where a proxy of the caller's forwards to it. Bootstrapping at the advertised ports sends every
   * connection of a client through those proxies.
   */
  get proxiedListeners(): { node: number; brokerPort: number; advertisedPort: number }[] {
    return CLUSTER_NODES.map((n) => ({ node: n, brokerPort: this.port + 200 + n - 1, advertisedPort: this.port + 300 + n - 1 }));
  }

  async #script(args: string[], env: Record<string, string> = {}): Promise<string> {
    const { stdout } = await run('bash', [`${root}scripts/kafka-cluster.sh`, ...args], {
      env: { ...process.env, KAFKA_CLUSTER_DIR: this.dir, KAFKA_CLUSTER_PORT: String(this.port), ...env },
      maxBuffer: 1 << 20,
    });
    return stdout.trim();
  }

  /** Starts the nodes that are not running and waits until all three serve. */
  async start(): Promise<void> {
    await this.#script(['start']);
  }

  async stop(): Promise<void> {
    await this.#script(['stop']);
  }

  async wipe(): Promise<void> {
    await this.#script(['wipe']);
  }

  async status(): Promise<string> {
    return this.#script(['status']);
  }

  async pid(node: number): Promise<number | undefined> {
    const out = await this.#script(['pid', String(node)]).catch(() => '');
    return out ? Number(out) : undefined;
  }

  kill(node: number): Promise<string> {
    return this.#script(['kill', String(node)]);
  }

  pause(node: number): Promise<string> {
    return this.#script(['pause', String(node)]);
  }

  resume(node: number): Promise<string> {
    return this.#script(['resume', String(node)]);
  }

  /** Starts node N again; `wait: false` returns once launched (a lone node cannot finish starting without a quorum). */
  async restart(node: number, wait = true): Promise<void> {
    await this.#script(['restart', String(node)], wait ? {} : { KAFKA_CLUSTER_NO_WAIT: '1' });
  }

  /** Leader node of each partition of `topic`, in partition order. */
  async leaders(topic: string): Promise<{ partition: number; leader: number; isr: number[] }[]> {
    return this.#withAdmin(async (admin) => {
      const [meta] = await admin.fetchTopicMetadata({ topics: [topic] });
      return (meta?.partitions ?? [])
        .map((p) => ({ partition: p.partitionId, leader: p.leader, isr: [...p.isr] }))
        .sort((a, b) => a.partition - b.partition);
    });
  }

  /**
   * Waits until every partition of `topics` has all three replicas in sync, so a scenario starts
   * from a healthy cluster and not from the last one's recovery.
   */
  async waitInSync(topics: string[], timeoutMs = 90_000): Promise<void> {
    await waitFor(
      () =>
        this.#withAdmin(async (admin) => {
          const metas = await admin.fetchTopicMetadata({ topics });
          return metas.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.isr.length === CLUSTER_NODES.length && p.leader >= 1));
        }),
      { what: `every replica of ${topics.join(', ')} in sync`, timeoutMs, intervalMs: 500 },
    );
  }

  async #withAdmin<T>(fn: (admin: KafkaJSTypes.Admin) => Promise<T>): Promise<T> {
    const admin = new KafkaJS.Kafka({ kafkaJS: { brokers: this.brokers, logLevel: KafkaJS.logLevel.NOTHING } }).admin();
    await admin.connect();
    try {
      return await fn(admin);
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }
}
