/** When and whether to send a batch again: pure functions, no DOM. */

/** What to do with a batch after an answer (or no answer). */
export type Verdict = 'done' | 'retry' | 'split' | 'drop';

/**
 * 2xx is done (a 207's failed events are queued again by the caller); 408, 409 (same key still
 * in flight), 429 and 5xx come back; 413 is split while a batch holds more than one event;
 * any other 4xx will never pass, so it is dropped. Status 0 means no answer (offline, refused).
 */
export function verdict(status: number, events: number): Verdict {
  if (status >= 200 && status < 300) return 'done';
  if (status === 0 || status === 408 || status === 409 || status === 429 || status >= 500) return 'retry';
  if (status === 413 && events > 1) return 'split';
  return 'drop';
}

/**
 * Retry-After as milliseconds: delta-seconds or an HTTP-date (RFC 9110 10.2.3); undefined when
 * absent or unreadable. Capped, so a wrong header cannot park the queue for days.
 */
export function retryAfterMs(header: string | null | undefined, now: number, cap = 600_000): number | undefined {
  if (!header) return undefined;
  const text = header.trim();
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    // An HTTP-date names its day and month; Date.parse would also take '-1' or '1.5'.
    const at = /[a-z]/i.test(text) ? Date.parse(text) : NaN;
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(Math.max(ms, 0), cap);
}

export interface BackoffOptions {
  /** First delay. @defaultValue 1000 */
  baseMs?: number;
  /** Largest delay without Retry-After. @defaultValue 60000 */
  maxMs?: number;
}

/**
 * Delay before attempt `attempt + 1` (attempt counts from 1): exponential with "equal jitter",
 * a uniform draw in [d/2, d] where d = min(max, base * 2^(attempt-1)), so many clients that
 * failed together spread out but none retries at once. Retry-After is a floor: the delay is at
 * least what the server asked, plus up to a fifth of it, so clients told the same second do
 * not all come back in that second.
 */
export function backoffMs(attempt: number, retryAfter: number | undefined, random: () => number, options: BackoffOptions = {}): number {
  const { baseMs = 1000, maxMs = 60_000 } = options;
  const d = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  const jittered = d / 2 + random() * (d / 2);
  if (retryAfter === undefined) return jittered;
  return Math.max(jittered, retryAfter + random() * retryAfter * 0.2);
}
