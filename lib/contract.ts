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

/** The tenant a record's headers name. */
export function tenantOf(headers: Record<string, string> | undefined): string {
  return headers?.[TENANT_HEADER] ?? DEFAULT_TENANT;
}

/**
 * One key for an event: ids are unique per tenant only. Length-prefixed, since a tenant read
 * from a record header need not be a valid name and could otherwise reach into the id's part.
 */
export function tenantEventKey(tenant: string, eventId: string): string {
  return `${tenant.length}:${tenant}/${eventId}`;
}

/** Redis channel (after REDIS_PREFIX) where the read-model group announces applied events. */
export const APPLIED_CHANNEL = 'applied';

/** Redis channel (after REDIS_PREFIX) where the analytics group announces applied events. */
export const ANALYTICS_APPLIED_CHANNEL = 'applied:analytics';

/**
 * One announcement: the ids of the events a batch applied, and `tenants[i]` the tenant that sent
 * `event_ids[i]`. Clients choose event ids, so two tenants can use the same one: a gateway
 * matches a waiter on both. `event_ids` alone is the older shape.
 */
export interface AppliedMessage {
  event_ids: string[];
  tenants: string[];
}

/** One applied event, as a gateway matches it to a waiter. */
export interface AppliedEvent {
  tenant: string;
  eventId: string;
}

export function encodeApplied(events: AppliedEvent[]): string {
  return encodeAppliedLists(events.map((e) => e.eventId), events.map((e) => e.tenant));
}

/** The same announcement from two lists, `tenants[i]` the tenant that sent `eventIds[i]` (no object per event). */
export function encodeAppliedLists(eventIds: string[], tenants: string[]): string {
  return JSON.stringify({ event_ids: eventIds, tenants } satisfies AppliedMessage);
}

/**
 * The applied events of an announcement, or undefined for anything that is not one. Ids in the
 * older shape (no `tenants`) count as the development tenant's, so they cannot end another
 * tenant's wait; such a wait runs out and answers 202.
 */
export function decodeApplied(message: string): AppliedEvent[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return undefined;
  }
  const { event_ids: ids, tenants } = (parsed ?? {}) as { event_ids?: unknown; tenants?: unknown };
  if (!Array.isArray(ids)) return undefined;
  if (tenants !== undefined && (!Array.isArray(tenants) || tenants.length !== ids.length)) return undefined;
  const events: AppliedEvent[] = [];
  for (let i = 0; i < ids.length; i++) {
    const eventId: unknown = ids[i];
    const tenant: unknown = tenants ? tenants[i] : DEFAULT_TENANT;
    if (typeof eventId === 'string' && typeof tenant === 'string') events.push({ tenant, eventId });
  }
  return events;
}
