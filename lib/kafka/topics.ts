/**
 * Ferry creates its topics itself, with an explicit partition count and replication; the broker
 * never auto-creates them.
 */
import { createRequire } from 'node:module';
import type * as RdKafka from '@confluentinc/kafka-javascript';
import { ConfigError, readInt } from '../config.ts';
import { type KafkaSecurity, kafkaSecurityProperties } from './security.ts';

const require = createRequire(import.meta.url);
const { AdminClient, CODES } = require('@confluentinc/kafka-javascript') as typeof RdKafka;

export interface EnsureTopicsOptions {
  brokers: string[];
  /** @defaultValue plaintext */
  security?: KafkaSecurity;
  topics: string[];
  /** @defaultValue 6 */
  partitions?: number;
  /** @defaultValue min(3, brokers listed) */
  replicationFactor?: number;
  /** Replicas that must have a record before acks=all succeeds. @defaultValue defaultMinInsyncReplicas(replicationFactor) */
  minInsyncReplicas?: number;
}

/** A majority of the replicas, and never all of them when there are several: RF 3 -> 2, RF 1 -> 1. */
export function defaultMinInsyncReplicas(replicationFactor: number): number {
  return Math.max(1, Math.min(replicationFactor - 1, Math.ceil(replicationFactor / 2)));
}

/**
 * Replication from KAFKA_REPLICATION_FACTOR and KAFKA_MIN_INSYNC_REPLICAS. The default follows
 * the bootstrap list: one broker (the dev broker) gets one replica, three or more get three.
 */
export function readReplication(env: Record<string, string | undefined>, brokers: string[]): { replicationFactor: number; minInsyncReplicas: number } {
  const replicationFactor = readInt(env, 'KAFKA_REPLICATION_FACTOR', Math.max(1, Math.min(3, brokers.length)), 1, 10);
  const minInsyncReplicas = readInt(env, 'KAFKA_MIN_INSYNC_REPLICAS', defaultMinInsyncReplicas(replicationFactor), 1, 10);
  if (minInsyncReplicas > replicationFactor) {
    throw new ConfigError('KAFKA_MIN_INSYNC_REPLICAS', `must be at most KAFKA_REPLICATION_FACTOR (${replicationFactor})`);
  }
  return { replicationFactor, minInsyncReplicas };
}

/** Creates the topics that do not exist yet; returns the names it created. */
export async function ensureTopics(options: EnsureTopicsOptions): Promise<string[]> {
  const admin = AdminClient.create({
    'bootstrap.servers': options.brokers.join(','),
    'client.id': 'ferry-admin',
    ...kafkaSecurityProperties(options.security),
  });
  const created: string[] = [];
  const replicationFactor = options.replicationFactor ?? Math.max(1, Math.min(3, options.brokers.length));
  const minInsync = options.minInsyncReplicas ?? defaultMinInsyncReplicas(replicationFactor);
  try {
    for (const topic of options.topics) {
      await new Promise<void>((resolve, reject) => {
        admin.createTopic(
          {
            topic,
            num_partitions: options.partitions ?? 6,
            replication_factor: replicationFactor,
            // Set on the topic, not left to the broker's defaults: an acknowledged record is on
            // minInsync replicas, and only one of them may become leader.
            config: { 'min.insync.replicas': String(minInsync), 'unclean.leader.election.enable': 'false' },
          },
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
