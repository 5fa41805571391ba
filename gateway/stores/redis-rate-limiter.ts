/**
 * A token bucket in Redis, as GCRA (generic cell rate algorithm): one key per credential holds
 * the theoretical arrival time of the next request. One script call per request, atomic, with
 * Redis's clock, so any number of gateway hosts share the budget exactly.
 */
import type { Redis } from 'ioredis';
import type { LogSink } from '../../lib/log-sink.ts';
import type { RateDecision, RateLimiter } from '../rate-limit.ts';

export interface RedisRateLimiterOptions {
  /** Sustained requests per second per credential (> 0). */
  perSecond: number;
  /** Requests a credential may send at once after being idle. @defaultValue perSecond (at least 1) */
  burst?: number;
  /** Key prefix (REDIS_PREFIX). */
  prefix: string;
  /** Warned when Redis fails. */
  logger?: LogSink;
  /** When Redis fails: allow the request (`open`) or answer that the limiter is unavailable (`closed`). @defaultValue `open` */
  onRedisDown?: 'open' | 'closed';
}

// KEYS[1] bucket; ARGV[1] emission interval in microseconds; ARGV[2] burst.
// Returns {1, 0} when allowed, {0, retry_after_us} when not.
const GCRA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local limit = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local next_tat = tat + interval
if next_tat - now > limit then
  return {0, next_tat - now - limit}
end
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1)
return {1, 0}`;

type WithGcra = Redis & { ferryRateTake(key: string, intervalUs: number, burst: number): Promise<[number, number]> };

export class RedisRateLimiter implements RateLimiter {
  readonly #redis: WithGcra;
  readonly #intervalUs: number;
  readonly #burst: number;
  #lastWarning = 0;

  constructor(redis: Redis, readonly options: RedisRateLimiterOptions) {
    if (!(options.perSecond > 0)) throw new Error('perSecond must be greater than 0');
    this.#burst = Math.max(1, Math.floor(options.burst ?? options.perSecond));
    this.#intervalUs = Math.max(1, Math.round(1_000_000 / options.perSecond));
    const r = redis as WithGcra;
    if (typeof r.ferryRateTake !== 'function') redis.defineCommand('ferryRateTake', { numberOfKeys: 1, lua: GCRA });
    this.#redis = r;
  }

  async take(subject: string): Promise<RateDecision> {
    try {
      const [allowed, retryUs] = await this.#redis.ferryRateTake(
        `${this.options.prefix}ratelimit:${encodeURIComponent(subject)}`,
        this.#intervalUs,
        this.#burst,
      );
      return allowed === 1 ? { allowed: true } : { allowed: false, retryAfterMs: Math.ceil(Number(retryUs) / 1000) };
    } catch (err) {
      const closed = this.options.onRedisDown === 'closed';
      // Warn at most once a minute.
      if (Date.now() - this.#lastWarning > 60_000) {
        this.#lastWarning = Date.now();
        this.options.logger?.warn(
          { err: (err as Error).message },
          closed ? 'rate limiter unavailable; refusing requests with 503' : 'rate limiter unavailable; allowing requests',
        );
      }
      return closed ? { allowed: false, unavailable: true } : { allowed: true };
    }
  }
}
