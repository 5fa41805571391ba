/**
 * Idempotency keys in the cache Redis: one hash per (tenant, credential, key) with the request
 * fingerprint, the lease token of the request holding it, and, once answered, the stored
 * response. Every step is one script, so two gateways racing on the same key cannot both take it.
 *
 * The cache Redis may evict: with an `allkeys-*` policy an entry can vanish before its TTL and
 * a late retry would run again (then the derived event ids keep the effect single). Prefer a
 * `volatile-*` policy or enough memory.
 */
import type { Redis } from 'ioredis';
import { sha256Hex } from '../../lib/api-keys.ts';
import type { BeginResult, IdempotencyOwner, IdempotencyStore, StoredResponse } from '../idempotency.ts';

// KEYS[1] entry; ARGV fingerprint, lease ms, lease token.
const BEGIN = `
local cur = redis.call('HMGET', KEYS[1], 'fp', 'res')
if not cur[1] then
  redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'lease', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'acquired'}
end
if cur[1] ~= ARGV[1] then return {'mismatch'} end
if not cur[2] then return {'in-flight'} end
return {'done', cur[2]}`;

// KEYS[1] entry; ARGV lease token, response JSON, ttl ms.
const COMPLETE = `
if redis.call('HGET', KEYS[1], 'lease') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'res', ARGV[2])
redis.call('HDEL', KEYS[1], 'lease')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

// KEYS[1] entry; ARGV lease token.
const RELEASE = `
if redis.call('HGET', KEYS[1], 'lease') ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])`;

type WithIdempotency = Redis & {
  ferryIdemBegin(key: string, fp: string, leaseMs: number, lease: string): Promise<[string, string?]>;
  ferryIdemComplete(key: string, lease: string, response: string, ttlMs: number): Promise<number>;
  ferryIdemRelease(key: string, lease: string): Promise<number>;
};

export class RedisIdempotencyStore implements IdempotencyStore {
  readonly #redis: WithIdempotency;

  constructor(redis: Redis, readonly prefix: string) {
    const r = redis as WithIdempotency;
    if (typeof r.ferryIdemBegin !== 'function') {
      redis.defineCommand('ferryIdemBegin', { numberOfKeys: 1, lua: BEGIN });
      redis.defineCommand('ferryIdemComplete', { numberOfKeys: 1, lua: COMPLETE });
      redis.defineCommand('ferryIdemRelease', { numberOfKeys: 1, lua: RELEASE });
    }
    this.#redis = r;
  }

  /** The key is hashed with the credential: clients choose it, and it should not shape Redis key names. */
  async #entry(owner: IdempotencyOwner, key: string): Promise<string> {
    return `${this.prefix}idempotency:${owner.tenant}:${await sha256Hex(`${owner.credential}\n${key}`)}`;
  }

  async begin(owner: IdempotencyOwner, key: string, fingerprint: string, leaseMs: number): Promise<BeginResult> {
    const lease = crypto.randomUUID();
    const [state, response] = await this.#redis.ferryIdemBegin(await this.#entry(owner, key), fingerprint, leaseMs, lease);
    switch (state) {
      case 'acquired':
        return { state, lease };
      case 'done':
        return { state, response: JSON.parse(response!) as StoredResponse };
      case 'mismatch':
      case 'in-flight':
        return { state };
      default:
        throw new Error(`idempotency store answered ${state}`);
    }
  }

  async complete(owner: IdempotencyOwner, key: string, lease: string, response: StoredResponse, ttlMs: number): Promise<void> {
    await this.#redis.ferryIdemComplete(await this.#entry(owner, key), lease, JSON.stringify(response), ttlMs);
  }

  async release(owner: IdempotencyOwner, key: string, lease: string): Promise<void> {
    await this.#redis.ferryIdemRelease(await this.#entry(owner, key), lease);
  }
}
