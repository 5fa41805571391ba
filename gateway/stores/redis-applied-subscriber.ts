/**
 * The Node gateway's ear for applied events: one subscriber connection per process on the
 * cache Redis channel `<REDIS_PREFIX>applied`, where a worker publishes
 * `{"event_ids":[...],"tenants":[...]}` (lib/contract.ts) after a batch is applied to the read model (PostgreSQL, Redis); the
 * analytics group announces ClickHouse writes on `<REDIS_PREFIX>applied:analytics`. Each message goes to the
 * process's AppliedEvents, which resolves only the waiters it holds.
 *
 * Pub/sub is fire-and-forget: a message sent while this connection is down is lost and the
 * affected requests fall back to 202 when their wait runs out, which is still a correct answer.
 */
import { Redis } from 'ioredis';
import type { LogSink } from '../../lib/log-sink.ts';
import type { AppliedEvents } from '../applied-events.ts';
import { APPLIED_CHANNEL } from '../../lib/contract.ts';

export function appliedChannel(prefix: string): string {
  return `${prefix}${APPLIED_CHANNEL}`;
}

export class RedisAppliedSubscriber {
  readonly #redis: Redis;
  #closing: Promise<void> | undefined;

  constructor(redisUrl: string, readonly prefix: string, readonly applied: AppliedEvents, readonly logger?: LogSink) {
    // A subscriber connection can do nothing else; it retries forever and resubscribes itself
    // after a reconnect (ioredis autoResubscribe).
    this.#redis = new Redis(redisUrl, { maxRetriesPerRequest: null, connectionName: 'ferry-gateway-applied' });
    this.#redis.on('message', (_channel: string, message: string) => this.applied.deliverMessage(message));
    this.#redis.on('error', (err: Error) => this.logger?.warn({ err: err.message }, 'applied-events subscriber error'));
  }

  /** Subscribes; resolves once the subscription is active (waits for Redis if it is down). */
  async start(): Promise<void> {
    await this.#redis.subscribe(appliedChannel(this.prefix));
  }

  /** Drops the connection. Not QUIT: that would wait for a reconnect while Redis is down, and a subscriber has nothing to flush. */
  close(): Promise<void> {
    this.#closing ??= Promise.resolve().then(() => this.#redis.disconnect());
    return this.#closing;
  }
}
