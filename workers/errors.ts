/**
 * Which failures are an outage of a dependency (retry the same work later, never dead-letter
 * it) and which belong to one event (retry that event, then dead-letter it).
 */
import { isTransientSqlState } from '../lib/sqlstates.ts';

/** Node socket errors that mean "the other side is not there right now". */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
  // postgres.js
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
]);

export function isOutage(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const x = e as { code?: unknown; name?: unknown; message?: unknown; retriable?: unknown };
    if (x.retriable === true) return true;
    if (typeof x.code === 'string' && (NETWORK_CODES.has(x.code) || (/^[0-9A-Z]{5}$/.test(x.code) && isTransientSqlState(x.code)))) return true;
    if (x.name === 'MaxRetriesPerRequestError') return true;
    const message = typeof x.message === 'string' ? x.message : '';
    if (/Connection is closed|connect ECONNREFUSED|socket hang up|fetch failed|Timeout error|other side closed/i.test(message)) return true;
  }
  return false;
}

export function describe(err: unknown): string {
  const e = err as { message?: string; code?: string };
  return e?.code ? `${e.code}: ${e.message ?? ''}` : (e?.message ?? String(err));
}

/**
 * Some events of a batch failed for reasons of their own (the rest was applied): by
 * tenantEventKey (lib/event.ts), the error of each, and for later events of a failed key, that
 * they wait behind it.
 */
export class EventFailures extends Error {
  constructor(readonly failures: ReadonlyMap<string, Error & { code?: string }>) {
    const first = failures.values().next().value;
    super(`${failures.size} event(s) failed: ${first?.message ?? ''}`, { cause: first });
  }
}
