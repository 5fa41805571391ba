/** What the gateway reads back: the order read model, from cache then database. */

export interface OrderView {
  order_id: string;
  customer_id: string;
  status: string;
  amount_cents: number;
  currency: string;
  items: { sku: string; quantity: number; price_cents: number }[];
  occurred_at: string;
  updated_at: string;
  /** Id of the event that produced this version. */
  event_id: string;
}

export interface ReadModel {
  /** The tenant's order: another tenant's order of the same id is not found. */
  getOrder(tenant: string, orderId: string): Promise<{ order: OrderView; source: 'cache' | 'database' } | null>;
  ready(): Promise<boolean>;
}
