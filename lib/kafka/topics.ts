/**
 * Ferry creates its topics itself, with an explicit partition count; the broker never
 * auto-creates them.
 */
import { createRequire } from 'node:module';
import type * as RdKafka from '@confluentinc/kafka-javascript';
import { kafkaSecurityProperties, type KafkaSecurity } from './security.ts';

const require = createRequire(import.meta.url);
const { AdminClient, CODES } = require('@confluentinc/kafka-javascript') as typeof RdKafka;

export interface EnsureTopicsOptions {
  brokers: string[];
  /** @defaultValue plaintext */
  security?: KafkaSecurity;
  topics: string[];
  /** @defaultValue 6 */
  partitions?: number;
  /** @defaultValue 1 */
  replicationFactor?: number;
}

/** Creates the topics that do not exist yet; returns the names it created. */
export async function ensureTopics(options: EnsureTopicsOptions): Promise<string[]> {
  const admin = AdminClient.create({ 'bootstrap.servers': options.brokers.join(','), 'client.id': 'ferry-admin', ...kafkaSecurityProperties(options.security) });
  const created: string[] = [];
  try {
    for (const topic of options.topics) {
      await new Promise<void>((resolve, reject) => {
        admin.createTopic(
          { topic, num_partitions: options.partitions ?? 6, replication_factor: options.replicationFactor ?? 1 },
          15_000,
          (err) => {
            if (!err) {
              created.push(topic);
              resolve();
            } else if (err.code === CODES.ERRORS.ERR_TOPIC_ALREADY_EXISTS) {
              resolve();
            } else {
              reject(new Error(`creating topic ${topic}: ${err.message}`));
            }
          },
        );
      });
    }
  } finally {
    admin.disconnect();
  }
  return created;
}

export function topicNames(prefix: string, logical: Iterable<string>): string[] {
  return [...logical].map((t) => prefix + t);
}

/** Deletes topics (tests and benchmarks clean up after themselves); a missing topic is fine. */
export async function deleteTopics(brokers: string[], topics: string[], security?: KafkaSecurity): Promise<void> {
  const admin = AdminClient.create({ 'bootstrap.servers': brokers.join(','), 'client.id': 'ferry-admin', ...kafkaSecurityProperties(security) });
  try {
    for (const topic of topics) {
      await new Promise<void>((resolve, reject) => {
        admin.deleteTopic(topic, 15_000, (err) => {
          if (!err || err.code === CODES.ERRORS.ERR_UNKNOWN_TOPIC_OR_PART) resolve();
          else reject(new Error(`deleting topic ${topic}: ${err.message}`));
        });
      });
    }
  } finally {
    admin.disconnect();
  }
}
