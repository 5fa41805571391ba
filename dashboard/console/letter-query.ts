/** The console's reads of the dead-letter queue: a page of letters, and all letters a filter takes. */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Codec } from '../../schemas/codec.ts';
import type { DeadLetter } from '../../lib/queues/dead-letters.ts';
import { type LetterFilter, matches } from './letter-filter.ts';
import { decodeCursor, type Page, walkLetters } from './letter-pages.ts';
import { decodeLetter, type StoredLetter } from './letter-view.ts';

/** Letters read per page request at most (the cursor goes on from there). */
export const PAGE_BUDGET = 5000;

export class LetterQuery {
  readonly redis: Redis;

  constructor(
    readonly queue: Queue<DeadLetter>,
    redis: Redis,
    readonly codec: Codec,
    readonly topicPrefix: string,
  ) {
    this.redis = redis;
  }

  readonly keys = { key: (suffix: string) => this.queue.toKey(suffix) };

  matcher(f: LetterFilter): (l: StoredLetter) => boolean {
    return (l) => {
      if (!matches(l.data, f, this.topicPrefix, l.failedReason)) return false;
      if (!f.eventId) return true;
      const d = decodeLetter(this.codec, l.data);
      return !(d instanceof Error) && d.value.event_id === f.eventId;
    };
  }

  page(f: LetterFilter, cursor: string | undefined, limit: number, budget = PAGE_BUDGET): Promise<Page> {
    return walkLetters(this.redis, this.keys, decodeCursor(cursor), this.matcher(f), {
      limit,
      budget,
      ...(f.from !== undefined ? { from: f.from - 60_000 } : {}),
      ...(f.to !== undefined ? { to: f.to + 60_000 } : {}),
    });
  }

  /** Every letter the filter takes (the walk is chunked; only the matches are kept). */
  async all(f: LetterFilter): Promise<StoredLetter[]> {
    return (await this.page(f, undefined, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)).letters;
  }

  /** The letters of these ids that wait for a person. */
  async byIds(ids: string[]): Promise<StoredLetter[]> {
    const out: StoredLetter[] = [];
    for (const id of ids) {
      const [failed, waiting] = await Promise.all([this.redis.zscore(this.keys.key('failed'), id), this.redis.lpos(this.keys.key('wait'), id)]);
      if (failed === null && waiting === null) continue;
      const data = await this.redis.hmget(this.keys.key(id), 'data', 'failedReason', 'atm');
      if (!data[0]) continue;
      out.push({
        id,
        data: JSON.parse(data[0]) as DeadLetter,
        state: failed !== null ? 'failed' : 'waiting',
        ...(data[1] ? { failedReason: data[1] } : {}),
        attemptsMade: Number(data[2] ?? 0),
      });
    }
    return out;
  }
}
