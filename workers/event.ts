/** An event as the worker sees it: decoded, with where it came from in Kafka. */
export interface ConsumedEvent {
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

/** Records without the header (produced before tenants, or by other tools) belong to the development tenant. */
export const DEFAULT_TENANT = 'default';

export interface OrderEvent {
  event_id: string;
  received_at: number;
  order_id: string;
  customer_id: string;
  status: string;
  amount_cents: number;
  currency: string;
  items: { sku: string; quantity: number; price_cents: number }[];
  occurred_at: number;
}

export interface PageViewEvent {
  event_id: string;
  received_at: number;
  user_id: string;
  url: string;
  referrer: string | null;
  occurred_at: number;
}
