import type { Codec } from '../schemas/codec.ts';
import type { RawMessage } from './kafka/consumer.ts';
import { DEFAULT_TENANT, tenantEventKey, tenantOf, TRACEPARENT_HEADER } from './contract.ts';
import { type Traced, TRACESTATE_HEADER } from './tracing.ts';

export { DEFAULT_TENANT, tenantEventKey };

/** An event as the worker sees it: decoded, with where it came from in Kafka. */
export interface ConsumedEvent extends Traced {
  /** Logical topic (`orders`), without the deployment prefix. */
  topic: string;
  partition: number;
  /** Kafka offset, as a decimal string (offsets exceed 2^53 in principle). */
  offset: string;
  key: string;
  /** Who sent it: the record's `ferry-tenant` header, set by the gateway from the credential. */
  tenant: string;
  schemaId: number;
  value: Record<string, unknown>;
}

// Generated from the .avsc files (schemas/generate-types.ts).
export type { OrderEvent, OrderItem, OrderStatus, PageViewEvent, TopicEvents } from '../schemas/types.generated.ts';

/** Decodes a consumed record against the registry, checking its schema belongs to its topic. */
export function decodeRecord(codec: Codec, topicPrefix: string, raw: RawMessage): ConsumedEvent | Error {
  try {
    if (!raw.value) throw new Error('record has no value');
    const d = codec.decode(raw.value);
    const logical = raw.topic.startsWith(topicPrefix) ? raw.topic.slice(topicPrefix.length) : raw.topic;
    if (d.topic !== logical) throw new Error(`schema ${d.schemaId} belongs to topic ${d.topic}, not ${logical}`);
    const headers = raw.headers;
    const event: ConsumedEvent = {
      topic: d.topic,
      partition: raw.partition,
      offset: raw.offset,
      key: raw.key?.toString('utf8') ?? '',
      tenant: tenantOf(headers),
      schemaId: d.schemaId,
      value: d.value,
    };
    // As sent, parsed only when spans are recorded (lib/tracing.ts inSinkSpan). Set only when
    // present, without spreading a temporary object per record.
    if (headers !== undefined) {
      const traceparent = headers[TRACEPARENT_HEADER];
      const tracestate = headers[TRACESTATE_HEADER];
      if (traceparent !== undefined) event.traceparent = traceparent;
      if (tracestate !== undefined) event.tracestate = tracestate;
    }
    return event;
  } catch (err) {
    return err as Error;
  }
}
