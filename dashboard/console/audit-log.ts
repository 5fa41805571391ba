/**
 * Every change the console makes, kept in the queue Redis as a bounded list (newest first): who
 * (the dashboard user, or `loopback` without credentials), when, what (the filter or the ids) and
 * how many. Kept beside the letters it is about, shared by every dashboard process.
 */
import type { Redis } from 'ioredis';
import type { LetterFilter } from './letter-filter.ts';

export interface AuditEntry {
  at: string;
  who: string;
  action: 'redrive' | 'discard';
  filter?: LetterFilter;
  ids?: string[];
  /** Letters the action was confirmed for (the dry run's count). */
  confirmed: number;
  /** Letters it acted on. */
  done: number;
  /** Letters it could not act on (e.g. not held yet). */
  skipped: number;
}

/** Entries kept. @defaultValue 1000 */
export const AUDIT_KEPT = 1000;

/** Ids listed in one entry at most; the count says how many there were. */
const IDS_KEPT = 100;

export class AuditLog {
  constructor(
    readonly redis: Redis,
    readonly key: string,
    readonly kept = AUDIT_KEPT,
  ) {}

  async append(entry: AuditEntry): Promise<void> {
    const shown = entry.ids && entry.ids.length > IDS_KEPT ? { ...entry, ids: entry.ids.slice(0, IDS_KEPT) } : entry;
    await this.redis.multi().lpush(this.key, JSON.stringify(shown)).ltrim(this.key, 0, this.kept - 1).exec();
  }

  async list(limit = 100): Promise<AuditEntry[]> {
    const rows = await this.redis.lrange(this.key, 0, Math.max(0, Math.min(limit, this.kept) - 1));
    return rows.flatMap((r) => {
      try {
        return [JSON.parse(r) as AuditEntry];
      } catch {
        return [];
      }
    });
  }
}

/** The audit list of a deployment: `<prefix>ferry-console:audit`. */
export function auditKey(topicPrefix: string): string {
  return `${topicPrefix}ferry-console:audit`;
}
