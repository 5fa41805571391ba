/**
 * Cache-aside order reads for the Node gateway: Redis first, then PostgreSQL, refilling the
 * cache with a version-guarded write so a refill never overwrites a newer order.
 */
import type { Redis } from 'ioredis';
import type { Sql } from 'postgres';
import { ORDER_TTL_MS, orderDoc, orderKey, rowVersion, selectOrders, withOrderCommands } from '../lib/order-cache.ts';
import type { OrderView, ReadModel } from './read-model.ts';

export class OrderReadModel implements ReadModel {
  readonly #redis;
  constructor(redis: Redis, readonly sql: Sql, readonly prefix: string) {
    this.#redis = withOrderCommands(redis);
  }

  async getOrder(tenant: string, orderId: string): Promise<{ order: OrderView; source: 'cache' | 'database' } | null> {
    const key = orderKey(this.prefix, tenant, orderId);
    const cached = await this.#redis.hget(key, 'doc');
    if (cached) return { order: JSON.parse(cached) as OrderView, source: 'cache' };
    const [row] = await selectOrders(this.sql, [{ tenant, orderId }]);
    if (!row) return null;
    const order = orderDoc(row);
    await this.#redis.ferrySetOrderIfNewer(key, rowVersion(row), JSON.stringify(order), ORDER_TTL_MS);
    return { order, source: 'database' };
  }

  async ready(): Promise<boolean> {
    try {
      await Promise.all([this.#redis.ping(), this.sql`SELECT 1`]);
      return true;
    } catch {
      return false;
    }
  }
}
