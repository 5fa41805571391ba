/**
 * Redrive and discard, by ids or by filter, after a dry run. A redrive moves a held letter back
 * to waiting, as bull-board's Retry does, so the replayer (lib/queues/replayer.ts) checks it and
 * produces its record to its topic again; a discard removes it. An action takes at most the
 * count the dry run promised, and is written to the audit log.
 */
import type { Queue } from 'bullmq';
import type { DeadLetter } from '../../lib/queues/dead-letters.ts';
import type { AuditLog } from './audit-log.ts';
import type { Confirmations } from './confirmations.ts';
import { FilterError, isEmpty, type LetterFilter, parseFilter } from './letter-filter.ts';
import type { LetterQuery } from './letter-query.ts';
import type { StoredLetter } from './letter-view.ts';

export type Selection = { ids: string[] } | { filter: LetterFilter };
export type Action = 'redrive' | 'discard';

/** Ids one selection may name. */
export const MAX_IDS = 1000;

/** Reads `{ids: [...]}` or `{filter: {...}}` from an action's body. */
export function parseSelection(body: Record<string, unknown>): Selection {
  if (Array.isArray(body.ids)) {
    if (body.ids.length === 0 || body.ids.length > MAX_IDS || !body.ids.every((i) => typeof i === 'string' && i.length > 0 && i.length < 1000)) {
      throw new FilterError(`ids must be 1 to ${MAX_IDS} letter ids`);
    }
    return { ids: [...new Set(body.ids as string[])].sort() };
  }
  if (body.filter && typeof body.filter === 'object') {
    const filter = parseFilter(body.filter as Record<string, unknown>);
    if (isEmpty(filter)) throw new FilterError('a filter action needs at least one term (or select ids)');
    return { filter };
  }
  throw new FilterError('send ids or a filter');
}

export class LetterActions {
  constructor(
    readonly queue: Queue<DeadLetter>,
    readonly query: LetterQuery,
    readonly confirmations: Confirmations,
    readonly audit: AuditLog,
  ) {}

  select(s: Selection): Promise<StoredLetter[]> {
    return 'ids' in s ? this.query.byIds(s.ids) : this.query.all(s.filter);
  }

  async dryRun(action: Action, s: Selection): Promise<{ count: number; token: string }> {
    const count = (await this.select(s)).length;
    return { count, token: await this.confirmations.promise(action, s, count) };
  }

  async act(action: Action, s: Selection, token: unknown, count: unknown, who: string): Promise<{ done: number; skipped: number }> {
    const confirmed = await this.confirmations.redeem(token, action, s, count);
    const letters = (await this.select(s)).slice(0, confirmed);
    let done = 0;
    for (const l of letters) {
      const job = await this.queue.getJob(l.id);
      if (!job) continue;
      try {
        if (action === 'redrive') {
          // Only a held letter can go back; a new one is held within moments, then it can.
          if (l.state !== 'failed') continue;
          await job.retry('failed');
        } else {
          await job.remove();
        }
        done++;
      } catch {
        // Locked by the replayer just now, or gone: counted as skipped.
      }
    }
    const skipped = confirmed - done;
    await this.audit.append({ at: new Date().toISOString(), who, action, ...('ids' in s ? { ids: s.ids } : { filter: s.filter }), confirmed, done, skipped });
    return { done, skipped };
  }
}
