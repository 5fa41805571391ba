/**
 * The record a worker's batch handler sees, made from what librdkafka's binding hands over
 * (node-rdkafka-style messages): the same Buffers for key and value, text headers.
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

/** One fetched record as a RawMessage; headers are converted only when the record has some. */
export function rawMessageOf(m: RdKafka.Message): RawMessage {
  const key = m.key;
  return {
    topic: m.topic,
    partition: m.partition,
    offset: String(m.offset),
    key: key === undefined || key === null ? null : typeof key === 'string' ? Buffer.from(key) : key,
    value: m.value ?? null,
    headers: m.headers === undefined ? undefined : headersOf(m.headers),
    // librdkafka says -1 when the record carries no timestamp.
    timestamp: m.timestamp !== undefined && m.timestamp >= 0 ? m.timestamp : undefined,
  };
}
