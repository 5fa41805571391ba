/**
 * A dead letter as the console shows it: the record decoded through the schema it was written
 * with (schemas/codec.ts), redacted, never its bytes; the error, stack, attempt history, Kafka
 * position and headers; and the replayer's word when a redrive was refused or failed.
 */
import type { Codec } from '../../schemas/codec.ts';
import type { DeadLetter } from '../../lib/queues/dead-letters.ts';
import { jsonSafe, redact } from './redact.ts';
import { tenantOf } from '../../lib/contract.ts';

/** A letter's job as read from the queue Redis (letter-pages.ts). */
export interface StoredLetter {
  id: string;
  data: DeadLetter;
  /** `failed` (held for a person) or `waiting` (not yet held). */
  state: string;
  failedReason?: string;
  attemptsMade: number;
}

export interface LetterView {
  id: string;
  state: string;
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  tenant: string;
  headers: Record<string, string>;
  /** From a W3C `traceparent` header, when the record carries one. */
  trace_id?: string;
  step: string;
  error: string;
  stack?: string;
  attempts: { at: string; error: string }[];
  dead_at: string;
  value_bytes: number;
  schema_id?: number;
  /** The decoded record, redacted; absent when the bytes do not decode. */
  record?: unknown;
  decode_error?: string;
  /** Why the last redrive did not go through (the replayer's refusal or Kafka's error). */
  redrive_error?: string;
}

export function traceId(headers: Record<string, string> | undefined): string | undefined {
  return /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/.exec(headers?.traceparent ?? '')?.[1];
}

export function decodeLetter(codec: Codec, d: DeadLetter): { schemaId: number; value: Record<string, unknown> } | Error {
  if (d.value_base64 === null) return new Error('the letter has no record value');
  try {
    return codec.decode(Buffer.from(d.value_base64, 'base64'));
  } catch (err) {
    return err as Error;
  }
}

export function letterView(codec: Codec, redactFields: ReadonlySet<string>, s: StoredLetter): LetterView {
  const d = s.data;
  const decoded = decodeLetter(codec, d);
  const trace = traceId(d.headers);
  return {
    id: s.id,
    state: s.state,
    topic: d.topic,
    partition: d.partition,
    offset: d.offset,
    key: d.key,
    tenant: tenantOf(d.headers),
    headers: { ...(d.headers ?? {}) },
    ...(trace ? { trace_id: trace } : {}),
    step: d.step,
    error: d.error,
    ...(d.stack ? { stack: d.stack } : {}),
    attempts: d.attempts ?? [],
    dead_at: d.dead_at,
    value_bytes: d.value_base64 === null ? 0 : Buffer.byteLength(d.value_base64, 'base64'),
    ...(decoded instanceof Error ? { decode_error: decoded.message } : { schema_id: decoded.schemaId, record: redact(jsonSafe(decoded.value), redactFields) }),
    ...(s.attemptsMade > 1 && s.failedReason && s.failedReason !== d.error ? { redrive_error: s.failedReason } : {}),
  };
}
