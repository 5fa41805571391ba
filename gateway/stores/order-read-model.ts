/**
 * Cache-aside order reads for the gateways (Node and edge): Redis first, then PostgreSQL, refilling the
 * cache with a version-guarded write so a refill never overwrites a newer order.
 */
import type { Redis } from 'ioredis';
import type { Sql } from 'postgres';
import { cacheOrders, orderDoc, orderKey, selectOrders } from '../../lib/order-cache.ts';
import type { OrderView, ReadModel } from '../read-model.ts';

export class OrderReadModel implements ReadModel {
  constructor(readonly redis: Redis, readonly sql: Sql, readonly prefix: string) {}

  async getOrder(tenant: string, orderId: string): Promise<{ order: OrderView; source: 'cache' | 'database' } | null> {
    const key = orderKey(this.prefix, tenant, orderId);
    const cached = await this.redis.hget(key, 'doc');
    if (cached) return { order: JSON.parse(cached) as OrderView, source: 'cache' };
    const [row] = await selectOrders(this.sql, [{ tenant, orderId }]);
    if (!row) return null;
    await cacheOrders(this.redis, this.prefix, [row]);
    return { order: orderDoc(row), source: 'database' };
  }

  async ready(): Promise<boolean> {
    try {
      await Promise.all([this.redis.ping(), this.sql`SELECT 1`]);
      return true;
    } catch {
      return false;
    }
  }
}
