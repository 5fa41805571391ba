import { ConfigError, readInt, readString } from '../config.ts';
import { DELIVERY_TIMEOUT_MS } from './event-producer.ts';

/** librdkafka producer settings shared by every process that produces (gateway, producer service). */
export interface ProducerTuning {
  /** librdkafka linger: every 202 waits for it, and under load batches fill without it. @defaultValue 1 (KAFKA_LINGER_MS) */
  lingerMs: number;
  /** none, gzip, snappy, lz4, zstd. @defaultValue lz4 (KAFKA_COMPRESSION) */
  compression: string;
  /**
   * A record Kafka has not acknowledged within this time fails, and its request gets a 503. At
   * most DELIVERY_TIMEOUT_MS, which the Idempotency-Key lease is sized for.
   * @defaultValue 30000 (KAFKA_DELIVERY_TIMEOUT_MS)
   */
  deliveryTimeoutMs: number;
}

export function readProducerTuning(env: Record<string, string | undefined>): ProducerTuning {
  const compression = readString(env, 'KAFKA_COMPRESSION', 'lz4');
  if (!['none', 'gzip', 'snappy', 'lz4', 'zstd'].includes(compression)) {
    throw new ConfigError('KAFKA_COMPRESSION', 'must be one of none, gzip, snappy, lz4, zstd');
  }
  return {
    lingerMs: readInt(env, 'KAFKA_LINGER_MS', 1, 0, 60_000),
    compression,
    deliveryTimeoutMs: readInt(env, 'KAFKA_DELIVERY_TIMEOUT_MS', DELIVERY_TIMEOUT_MS, 1000, DELIVERY_TIMEOUT_MS),
  };
}
