/**
 * The gateway's Redis- and PostgreSQL-backed parts, made the same way for every runtime that
 * can open TCP connections (gateway/main.ts, gateway/main.deno.ts): the order read model, rate limits,
 * Idempotency-Key storage and the applied-event subscription behind `Prefer: wait`.
 */
import { Redis } from 'ioredis';
import postgres from 'postgres';
import type { LogSink } from '../../lib/log-sink.ts';
import { AppliedEvents } from '../applied-events.ts';
import type { GatewayOptions } from '../app.ts';
import type { GatewayConfig } from '../gateway-config.ts';
import { OrderReadModel } from './order-read-model.ts';
import { DELIVERY_TIMEOUT_MS } from '../../lib/kafka/event-producer.ts';
import { RedisAppliedSubscriber } from './redis-applied-subscriber.ts';
import { RedisIdempotencyStore } from './redis-idempotency-store.ts';
import { RedisRateLimiter } from './redis-rate-limiter.ts';

export interface RedisStores {
  options: Pick<
    GatewayOptions,
    | 'readModel'
    | 'rateLimiter'
    | 'addressLimiter'
    | 'idempotency'
    | 'idempotencyTtlMs'
    | 'idempotencyLeaseMs'
    | 'applied'
    | 'maxWaitSeconds'
    | 'maxWaitAnswerBytes'
    | 'maxStoredAnswerBytes'
  >;
  applied: AppliedEvents;
  /** Drops the connections (call after the server stopped). */
  close: () => Promise<void>;
}

export async function withRedisStores(config: GatewayConfig, logger: LogSink): Promise<RedisStores> {
  // Commands made in one turn of the event loop go out in one write (auto-pipelining): with rate
  // limits on, every request makes one, and the write is most of a command's CPU here. Nothing on
  // this connection blocks (the subscriber has its own).
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2, enableAutoPipelining: true });
  const idempotencyRedis = config.idempotencyRedisUrl === config.redisUrl ? redis : new Redis(config.idempotencyRedisUrl, { maxRetriesPerRequest: 2 });
  void warnIfEvicting(idempotencyRedis, logger);
  const sql = postgres(config.databaseUrl, { max: 4, onnotice: () => {} });

  const applied = new AppliedEvents();
  const subscriber = new RedisAppliedSubscriber(config.redisUrl, config.redisPrefix, applied, logger);
  // Waiting requests need the subscription; without it they still get their 202, so start-up
  // does not hang on it.
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    subscriber.start().catch((err: Error) => logger.warn({ err: err.message }, 'applied-events subscription failed; Prefer: wait will time out')),
    new Promise((resolve) => (timer = setTimeout(resolve, 5000))),
  ]);
  clearTimeout(timer);

  return {
    applied,
    options: {
      readModel: new OrderReadModel(redis, sql, config.redisPrefix),
      rateLimiter: config.rateLimitPerSecond > 0
        ? new RedisRateLimiter(redis, {
          perSecond: config.rateLimitPerSecond,
          burst: config.rateLimitBurst,
          prefix: config.redisPrefix,
          logger,
          onRedisDown: config.rateLimitOnRedisDown,
        })
        : undefined,
      addressLimiter: config.rateLimitAddressPerSecond > 0
        ? new RedisRateLimiter(redis, {
          perSecond: config.rateLimitAddressPerSecond,
          prefix: config.redisPrefix,
          logger,
          onRedisDown: config.rateLimitOnRedisDown,
        })
        : undefined,
      idempotency: new RedisIdempotencyStore(idempotencyRedis, config.redisPrefix),
      idempotencyTtlMs: config.idempotencyTtlSeconds * 1000,
      // Longer than any request can take: the producer's settle time plus the longest wait.
      idempotencyLeaseMs: DELIVERY_TIMEOUT_MS + config.maxWaitSeconds * 1000 + 30_000,
      applied,
      maxWaitSeconds: config.maxWaitSeconds,
      maxWaitAnswerBytes: config.maxWaitAnswerBytes,
      maxStoredAnswerBytes: config.idempotencyMaxAnswerBytes,
    },
    close: async () => {
      await subscriber.close();
      redis.disconnect();
      if (idempotencyRedis !== redis) idempotencyRedis.disconnect();
      await sql.end({ timeout: 5 });
    },
  };
}

/**
 * Idempotency answers must live their TTL: on a Redis that evicts under memory pressure a stored
 * answer can vanish early, and a retry would then produce again (with the same event ids, which
 * the sinks fold, but page views would count twice). Said once at start; CONFIG may be disabled.
 */
async function warnIfEvicting(redis: Redis, log: LogSink): Promise<void> {
  try {
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
    if (policy !== 'noeviction') {
      log.warn(
        { policy },
        'the Redis of IDEMPOTENCY_REDIS_URL may evict keys: a stored Idempotency-Key answer can vanish before IDEMPOTENCY_TTL_SECONDS; point it at a Redis with maxmemory-policy noeviction',
      );
    }
  } catch (err) {
    log.debug({ err: (err as Error).message }, 'could not read maxmemory-policy of the idempotency Redis');
  }
}
