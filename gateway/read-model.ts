/** What the gateway reads back: the order read model, from cache then database. */
import type { OrderEvent } from '../schemas/types.generated.ts';

/**
 * An order as served: the fields of the order event that produced it (`event_id` is that
 * event), timestamps as RFC 3339 text, plus when the read model last changed it.
 */
export type OrderView = Omit<OrderEvent, 'received_at' | 'occurred_at' | 'status'> & {
  /** An OrderStatus; typed as text, as stores and test doubles hand it over. */
  status: string;
  occurred_at: string;
  updated_at: string;
};

export interface ReadModel {
  /** The tenant's order: another tenant's order of the same id is not found. */
  getOrder(tenant: string, orderId: string): Promise<{ order: OrderView; source: 'cache' | 'database' } | null>;
  ready(): Promise<boolean>;
}
