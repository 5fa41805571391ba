/**
 * Per-credential rate limits. The app sees only this interface; the Node entry injects a Redis
 * token bucket (stores/redis-rate-limiter.ts) so every gateway host shares one budget per credential.
 */
import type { MiddlewareHandler } from 'hono';
import type { Credential } from './auth.ts';
import { problem } from '../lib/problem.ts';

export type RateDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

export interface RateLimiter {
  /** Takes one request from `subject`'s budget. Implementations fail open (allow) when their store is down. */
  take(subject: string): Promise<RateDecision>;
}

/** Answers 429 with Retry-After (whole seconds, at least 1) when the credential's budget is spent. */
export const rateLimit = (limiter: RateLimiter | undefined): MiddlewareHandler<{ Variables: { credential: Credential } }> =>
  async function rateLimit(c, next) {
    if (!limiter) return next();
    const decision = await limiter.take(c.get('credential').id);
    if (decision.allowed) return next();
    const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
    return problem(c, 429, 'Too Many Requests', `this credential's rate limit is spent; retry in ${seconds} s`, {}, { 'retry-after': String(seconds) });
  };
