/**
 * The console's dead-letter filter: what the query string (or an action's body) names, and
 * whether a stored letter matches it. Every term is optional; all given must hold.
 */
import { tenantOf } from '../../lib/contract.ts';
import type { DeadLetter } from '../../lib/queues/dead-letters.ts';

export interface LetterFilter {
  /** Kafka topic, with or without the deployment prefix. */
  topic?: string;
  key?: string;
  tenant?: string;
  step?: string;
  /** Text in the error (case-insensitive). */
  q?: string;
  /** Dead since (ms). */
  from?: number;
  /** Dead until (ms). */
  to?: number;
  /** A decoded record's event id: costs a decode per letter, so used by the search only. */
  eventId?: string;
}

const TERMS = ['topic', 'key', 'tenant', 'step', 'q', 'from', 'to'] as const;

export class FilterError extends Error {}

function time(name: string, v: string): number {
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n)) throw new FilterError(`${name} must be a time (ISO 8601 or ms since 1970)`);
  return n;
}

/** Reads the filter terms from query or body values; unknown and empty ones are ignored. */
export function parseFilter(values: Record<string, unknown>): LetterFilter {
  const f: LetterFilter = {};
  for (const t of TERMS) {
    const v = values[t];
    if (v === undefined || v === null || v === '') continue;
    if (typeof v !== 'string' && typeof v !== 'number') throw new FilterError(`${t} must be text`);
    const s = String(v);
    if (s.length > 500) throw new FilterError(`${t} is too long`);
    if (t === 'from' || t === 'to') f[t] = time(t, s);
    else f[t] = s;
  }
  if (f.from !== undefined && f.to !== undefined && f.from > f.to) throw new FilterError('from is after to');
  return f;
}

/** True when no term is given: a filter action on it would take every letter. */
export function isEmpty(f: LetterFilter): boolean {
  return Object.values(f).every((v) => v === undefined);
}

/** Whether a letter matches, all but eventId (which needs the decoded record). */
export function matches(d: DeadLetter, f: LetterFilter, topicPrefix: string, extraError = ''): boolean {
  if (f.topic && d.topic !== f.topic && d.topic !== topicPrefix + f.topic) return false;
  if (f.key && d.key !== f.key) return false;
  if (f.tenant && tenantOf(d.headers) !== f.tenant) return false;
  if (f.step && d.step !== f.step) return false;
  if (f.q) {
    const q = f.q.toLowerCase();
    if (!d.error.toLowerCase().includes(q) && !extraError.toLowerCase().includes(q)) return false;
  }
  const at = Date.parse(d.dead_at);
  if (f.from !== undefined && !(at >= f.from)) return false;
  if (f.to !== undefined && !(at <= f.to)) return false;
  return true;
}
