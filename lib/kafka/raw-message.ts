/**
 * The record a worker's batch handler sees, made from what librdkafka's binding hands over:
 * key and value as Buffers, text headers.
 */
import type * as RdKafka from '@confluentinc/kafka-javascript';

export interface RawMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** Record headers as text (`ferry-tenant`, ...); the last value of a repeated header. */
  headers?: Record<string, string>;
  /** The record's Kafka timestamp in ms (CreateTime: when the gateway produced it). */
  timestamp?: number;
}

/** A fetched record as the consumer buffers it: the offset as a number, with its leader epoch. */
export interface FetchedRecord {
  topic: string;
  partition: number;
  offset: number;
  /** For the offset stored after this record (librdkafka's truncation check); absent when unknown. */
  leaderEpoch?: number;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, string>;
  timestamp?: number;
}

/** The binding's headers (one `{ key: value }` object per header, in record order) as text. */
export function headersOf(list: readonly RdKafka.MessageHeader[] | undefined): Record<string, string> | undefined {
  if (list === undefined || list.length === 0) return undefined;
  const out: Record<string, string> = {};
  let any = false;
  for (const header of list) {
    for (const k in header) {
      const v = header[k];
      if (v === undefined || v === null) continue;
      out[k] = typeof v === 'string' ? v : v.toString('utf8');
      any = true;
    }
  }
  return any ? out : undefined;
}

/** One node-rdkafka-style message (the binding's stock consume()) as a FetchedRecord. */
export function fetchedOf(m: RdKafka.Message): FetchedRecord {
  const key = m.key;
  return {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    leaderEpoch: m.leaderEpoch,
    key: key === undefined || key === null ? null : typeof key === 'string' ? Buffer.from(key) : key,
    value: m.value ?? null,
    headers: m.headers === undefined ? undefined : headersOf(m.headers),
    // librdkafka says -1 when the record carries no timestamp.
    timestamp: m.timestamp !== undefined && m.timestamp >= 0 ? m.timestamp : undefined,
  };
}

/** What the handler gets: the same Buffers, the offset as text. */
export function rawMessageOf(r: FetchedRecord): RawMessage {
  return { topic: r.topic, partition: r.partition, offset: String(r.offset), key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp };
}
