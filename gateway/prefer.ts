/**
 * The Prefer request header (RFC 7240). Ferry honours `wait=N`: answer once the workers applied
 * the events, or after N seconds with the usual 202. Unknown preferences are ignored, as the
 * RFC asks.
 */
import type { RequestHeaders } from './headers.ts';

/** Seconds from the first well-formed `wait` preference, capped at `max`; undefined when absent or 0. */
export function preferredWait(headers: RequestHeaders, max: number): number | undefined {
  const raw = headers.get('prefer');
  if (!raw) return undefined;
  for (const preference of raw.split(',')) {
    const [token] = preference.split(';');
    const eq = token!.indexOf('=');
    if (eq < 0) continue;
    const name = token!.slice(0, eq).trim().toLowerCase();
    const value = token!.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    if (name !== 'wait' || !/^\d{1,9}$/.test(value)) continue;
    const seconds = Math.min(Number(value), max);
    return seconds > 0 ? seconds : undefined;
  }
  return undefined;
}
