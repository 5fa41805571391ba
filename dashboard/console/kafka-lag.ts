/**
 * Consumer lag per group and partition from Kafka's admin API: each group's committed offset
 * against the partition's high watermark. A committed offset of -1 (nothing committed yet) counts
 * from the low watermark, as a new group reads from the beginning.
 */
import { createRequire } from 'node:module';
import type { KafkaJS as KafkaJSTypes } from '@confluentinc/kafka-javascript';
import { type KafkaSecurity, kafkaSecurityProperties } from '../../lib/kafka/security.ts';

const require = createRequire(import.meta.url);
const { KafkaJS } = require('@confluentinc/kafka-javascript') as { KafkaJS: typeof KafkaJSTypes };

export interface PartitionLag {
  topic: string;
  partition: number;
  high: number;
  committed: number;
  lag: number;
}

export interface LagReading {
  /** By group name (`read-model`, `analytics`). */
  groups: Record<string, PartitionLag[]>;
  /** Partitions per topic. */
  partitions: Record<string, number>;
}

export function lagOf(high: number, low: number, committed: number): number {
  return Math.max(0, high - (committed < 0 ? low : committed));
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer)
  );
}

export class KafkaLag {
  #admin: KafkaJSTypes.Admin | undefined;
  #connecting: Promise<KafkaJSTypes.Admin> | undefined;

  constructor(
    readonly brokers: string[],
    readonly security: KafkaSecurity | undefined,
    readonly topics: string[],
    readonly groups: Record<string, string>,
  ) {}

  #connect(): Promise<KafkaJSTypes.Admin> {
    if (this.#admin) return Promise.resolve(this.#admin);
    this.#connecting ??= (async () => {
      const admin = new KafkaJS.Kafka({
        kafkaJS: { brokers: this.brokers, logLevel: KafkaJS.logLevel.NOTHING },
        ...kafkaSecurityProperties(this.security),
      } as KafkaJSTypes.CommonConstructorConfig).admin();
      await within(admin.connect(), 3000, 'Kafka admin connect').catch((err: unknown) => {
        void admin.disconnect().catch(() => {});
        throw err;
      });
      this.#admin = admin;
      return admin;
    })().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  async read(timeoutMs = 2500): Promise<LagReading> {
    const admin = await this.#connect();
    try {
      const marks = new Map<string, { high: number; low: number }>();
      const partitions: Record<string, number> = {};
      for (const topic of this.topics) {
        const offsets = await within(admin.fetchTopicOffsets(topic, { timeout: timeoutMs } as never), timeoutMs, `offsets of ${topic}`);
        partitions[topic] = offsets.length;
        for (const o of offsets) marks.set(`${topic}:${o.partition}`, { high: Number(o.high), low: Number(o.low) });
      }
      const groups: Record<string, PartitionLag[]> = {};
      for (const [name, groupId] of Object.entries(this.groups)) {
        const committed = await within(admin.fetchOffsets({ groupId, topics: this.topics, timeout: timeoutMs }), timeoutMs, `offsets of ${name}`);
        groups[name] = committed.flatMap((t) =>
          t.partitions.map((p) => {
            const m = marks.get(`${t.topic}:${p.partition}`) ?? { high: 0, low: 0 };
            const c = Number(p.offset);
            return { topic: t.topic, partition: p.partition, high: m.high, committed: c, lag: lagOf(m.high, m.low, c) };
          })
        );
      }
      return { groups, partitions };
    } catch (err) {
      // A broken admin client is dropped, and a new one connects on the next reading.
      this.#admin = undefined;
      void admin.disconnect().catch(() => {});
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.#admin?.disconnect().catch(() => {});
    this.#admin = undefined;
  }
}
