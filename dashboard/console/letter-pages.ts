/**
 * Cursor paging over the dead-letter queue straight from BullMQ's keys, newest first: first the
 * `wait` list (letters the replayer has not held yet, usually none), then the `failed` sorted set
 * (held letters, scored by when they were held) walked by score. A page reads job hashes in
 * chunks and stops at `limit` matches or after `budget` letters read, whichever comes first, so
 * one request costs the same at 100 letters or at 100,000; the cursor says where to go on.
 */
import type { Redis } from 'ioredis';
import type { DeadLetter } from '../../lib/queues/dead-letters.ts';
import type { StoredLetter } from './letter-view.ts';

/** Where a walk goes on: in the wait list at index `i`, or in `failed` below (`s`, `id`). */
export type Cursor = { p: 'w'; i: number } | { p: 'f'; s: number; id: string };

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

export function decodeCursor(text: string | undefined): Cursor {
  if (!text) return { p: 'w', i: 0 };
  try {
    const c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Cursor;
    if (c.p === 'w' && Number.isInteger(c.i) && c.i >= 0) return { p: 'w', i: c.i };
    if (c.p === 'f' && typeof c.s === 'number' && typeof c.id === 'string') return { p: 'f', s: c.s, id: c.id };
  } catch {
    // falls through
  }
  throw new CursorError('the cursor is not one this console gave out');
}

export class CursorError extends Error {}

export interface LetterKeys {
  /** The redis key of a BullMQ queue key type (`wait`, `failed`) or job id. */
  key(suffix: string): string;
}

export interface WalkOptions {
  /** Letters wanted. */
  limit: number;
  /** Letters read at most before answering with a cursor. */
  budget: number;
  /** Held at or after (ms): bounds the walk of `failed` by score. */
  from?: number;
  /** Held at or before (ms). */
  to?: number;
  /** Job hashes read per round trip. @defaultValue 200 */
  chunk?: number;
}

export interface Page {
  letters: StoredLetter[];
  /** Absent at the end. */
  next?: string;
  scanned: number;
}

async function readJobs(redis: Redis, keys: LetterKeys, ids: string[], state: string): Promise<(StoredLetter | undefined)[]> {
  const p = redis.pipeline();
  for (const id of ids) p.hmget(keys.key(id), 'data', 'failedReason', 'atm', 'attemptsMade');
  const rows = (await p.exec()) ?? [];
  return rows.map(([err, row], i) => {
    const [data, failedReason, atm, attemptsMade] = (row ?? []) as (string | null)[];
    if (err || !data) return undefined;
    try {
      return {
        id: ids[i]!,
        data: JSON.parse(data) as DeadLetter,
        state,
        ...(failedReason ? { failedReason } : {}),
        attemptsMade: Number(atm ?? attemptsMade ?? 0),
      };
    } catch {
      return undefined;
    }
  });
}

/** Walks from `cursor`, keeping the letters `keep` accepts. */
export async function walkLetters(redis: Redis, keys: LetterKeys, cursor: Cursor, keep: (l: StoredLetter) => boolean, o: WalkOptions): Promise<Page> {
  const chunk = o.chunk ?? 200;
  const letters: StoredLetter[] = [];
  let scanned = 0;
  let c: Cursor = cursor;
  const full = () => letters.length >= o.limit || scanned >= o.budget;
  while (c.p === 'w') {
    const ids = await redis.lrange(keys.key('wait'), c.i, c.i + chunk - 1);
    const jobs = await readJobs(redis, keys, ids, 'waiting');
    let taken = 0;
    for (const j of jobs) {
      taken++;
      scanned++;
      if (j && keep(j)) letters.push(j);
      if (full()) break;
    }
    if (ids.length < chunk && taken === ids.length) {
      c = { p: 'f', s: o.to ?? Number.MAX_SAFE_INTEGER, id: '\uffff' };
      break;
    }
    c = { p: 'w', i: c.i + taken };
    if (full()) return { letters, next: encodeCursor(c), scanned };
  }
  if (full()) return { letters, next: encodeCursor(c), scanned };
  // Newest first by score; among equal scores Redis orders members backwards by text, so what
  // is left of a score is below the cursor's id.
  let skip = 0;
  let at = c as { p: 'f'; s: number; id: string };
  for (;;) {
    const max = o.to !== undefined ? Math.min(o.to, at.s) : at.s;
    const rows = await redis.zrevrangebyscore(keys.key('failed'), max, o.from ?? '-inf', 'WITHSCORES', 'LIMIT', skip, chunk);
    if (rows.length === 0) return { letters, scanned };
    const page: { id: string; s: number }[] = [];
    for (let i = 0; i < rows.length; i += 2) page.push({ id: rows[i]!, s: Number(rows[i + 1]) });
    const fresh = page.filter((r) => r.s < at.s || (r.s === at.s && r.id < at.id));
    if (fresh.length === 0) {
      // A chunk of ties already seen: step over them.
      skip += page.length;
      continue;
    }
    skip = 0;
    const jobs = await readJobs(redis, keys, fresh.map((r) => r.id), 'failed');
    for (let i = 0; i < fresh.length; i++) {
      scanned++;
      at = { p: 'f', s: fresh[i]!.s, id: fresh[i]!.id };
      const j = jobs[i];
      if (j && keep(j)) letters.push(j);
      if (full()) return { letters, next: encodeCursor(at), scanned };
    }
    if (page.length < chunk) return { letters, scanned };
  }
}
