/**
 * What the gateway and the workers agree on besides the Avro schemas: the record header that
 * names the sender's tenant, and the Redis channels on which workers announce applied events
 * to gateways holding a `Prefer: wait` request. Both sides import these; neither spells them.
 */

/** Kafka record header carrying the tenant of the credential that sent the event (set by the gateway). */
export const TENANT_HEADER = 'ferry-tenant';

/**
 * Kafka record header carrying the W3C trace context (`00-<trace id>-<span id>-<flags>`) of the
 * request that produced the event (lib/tracing.ts), so workers continue the client's trace.
 */
export const TRACEPARENT_HEADER = 'traceparent';

/** Records without the header (produced by other tools) belong to the development tenant. */
export const DEFAULT_TENANT = 'default';

/** Redis channel (after REDIS_PREFIX) where the read-model group announces applied events. */
export const APPLIED_CHANNEL = 'applied';

/** Redis channel (after REDIS_PREFIX) where the analytics group announces applied events. */
export const ANALYTICS_APPLIED_CHANNEL = 'applied:analytics';

/** One announcement: the ids of the events a batch applied. */
export interface AppliedMessage {
  event_ids: string[];
}

export function encodeApplied(eventIds: string[]): string {
  return JSON.stringify({ event_ids: eventIds } satisfies AppliedMessage);
}

/** The event ids of an announcement, or undefined for anything that is not one. */
export function decodeApplied(message: string): string[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return undefined;
  }
  const ids = (parsed as { event_ids?: unknown } | null)?.event_ids;
  return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : undefined;
}
