/**
 * BullMQ's Redis must keep what it is given: retry and dead-letter jobs may not be evicted
 * or lost on restart. The worker refuses to start on a Redis that would do either.
 */
import { Redis } from 'ioredis';

export class UnsafeQueueRedisError extends Error {
  readonly retriable = false;
}

export async function checkQueueRedis(redis: Redis): Promise<void> {
  const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
  const [, aof] = (await redis.config('GET', 'appendonly')) as [string, string];
  const [, save] = (await redis.config('GET', 'save')) as [string, string];
  if (policy !== 'noeviction') {
    throw new UnsafeQueueRedisError(`QUEUE_REDIS_URL: maxmemory-policy is ${policy}; BullMQ needs noeviction`);
  }
  if (aof !== 'yes' && !save) {
    throw new UnsafeQueueRedisError(
      'QUEUE_REDIS_URL: this Redis keeps nothing on disk (appendonly no, no save points); retry and dead-letter jobs would be lost on restart',
    );
  }
}

export function connectQueueRedis(url: string): Redis {
  // BullMQ requires maxRetriesPerRequest: null on connections it blocks on.
  return new Redis(url, { maxRetriesPerRequest: null, enableOfflineQueue: true });
}
