/**
 * What the gateway needs from a producer. The Node gateway uses librdkafka in-process
 * (lib/kafka/producer.ts); the edge gateway forwards to the producer service (gateway/http-producer.ts).
 */

export interface OutgoingRecord {
  /** Kafka topic name (already prefixed). */
  topic: string;
  key: string;
  /** Confluent-framed Avro. */
  value: Uint8Array;
  headers?: Record<string, string>;
}

/**
 * How long a producer may take to settle a record (Kafka's delivery timeout in lib/kafka/producer.ts,
 * the request timeout to the producer service in gateway/http-producer.ts). The Idempotency-Key lease
 * (gateway/stores/redis-stores.ts) must outlast it.
 */
export const DELIVERY_TIMEOUT_MS = 30_000;

export type Delivery =
  | { ok: true; partition: number; offset: string }
  | { ok: false; error: ProduceError };

export interface EventProducer {
  /**
   * Produces every record and settles once Kafka has acknowledged each one (acks=all) or
   * failed it. The result has one entry per record, in order. Never rejects for a single
   * record's failure; rejects only when nothing could be attempted.
   */
  send(records: OutgoingRecord[]): Promise<Delivery[]>;
  /** True when the producer can reach Kafka. */
  ready(): Promise<boolean>;
  /** Flushes what is in flight, then disconnects. Idempotent. */
  close(): Promise<void>;
}

export class ProduceError extends Error {
  constructor(message: string, readonly retriable: boolean, readonly code?: string) {
    super(message);
    this.name = 'ProduceError';
  }
}
