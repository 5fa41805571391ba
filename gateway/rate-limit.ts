/**
 * Rate limits. The app sees only this interface; the runtime entries inject a Redis token
 * bucket (stores/redis-rate-limiter.ts) so every gateway host shares one budget per subject.
 *
 * Two budgets: one per credential for authenticated /v1 calls, and one per client address for
 * everything a caller reaches without a credential (/readyz, /metrics, /docs, /openapi.json,
 * unknown routes, and /v1 requests whose credential was refused, so keys cannot be guessed at
 * full speed). /healthz is left out: it costs nothing and load balancers poll it.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { Credential } from './auth.ts';
import { problem } from '../lib/problem.ts';

export type RateDecision =
  | { allowed: true }
  | { allowed: false; retryAfterMs: number }
  /** The limiter's store is down and the limiter fails closed. */
  | { allowed: false; unavailable: true };

export interface RateLimiter {
  /** Takes one request from `subject`'s budget. When the store is down: allowed (fail open) or `unavailable` (fail closed). */
  take(subject: string): Promise<RateDecision>;
}

/** The answer for a refused decision: 429 with Retry-After (whole seconds, at least 1), or 503 when the limiter is down. */
export function refusal(c: Context, decision: Exclude<RateDecision, { allowed: true }>, whose: string): Response {
  if ('unavailable' in decision) {
    return problem(c, 503, 'Rate limiter unavailable', 'the request was not processed; retry later', {}, { 'retry-after': '1' });
  }
  const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
  return problem(c, 429, 'Too Many Requests', `${whose} rate limit is spent; retry in ${seconds} s`, {}, { 'retry-after': String(seconds) });
}

/** Charges the authenticated credential. */
export const rateLimit = (limiter: RateLimiter | undefined): MiddlewareHandler<{ Variables: { credential: Credential } }> =>
  async function rateLimit(c, next) {
    if (!limiter) return next();
    const decision = await limiter.take(c.get('credential').id);
    if (decision.allowed) return next();
    return refusal(c, decision, "this credential's");
  };

/** Reads the client's address from the connection (runtime-specific). */
export type ClientAddress = (c: Context) => string | undefined;

/** Charges the client address; `unknown` when the runtime cannot tell it. */
export async function takeForAddress(c: Context, limiter: RateLimiter, address: ClientAddress | undefined): Promise<Response | undefined> {
  const decision = await limiter.take(`addr:${address?.(c) ?? 'unknown'}`);
  return decision.allowed ? undefined : refusal(c, decision, "this address's");
}
