/**
 * Cursor paging over the dead-letter queue's own keys in the queue Redis (a queue name of this
 * test's own, removed after): every letter exactly once across pages, newest first, ties within
 * a millisecond included, and a page's cost bounded at 100,000 letters.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { DeadLetter } from '../../lib/queues/dead-letters.ts';
import { AuditLog } from './audit-log.ts';
import { ConfirmationError, Confirmations } from './confirmations.ts';
import { CursorError, decodeCursor, type LetterKeys, walkLetters } from './letter-pages.ts';

const redis = new Redis(process.env.QUEUE_REDIS_URL ?? 'redis://127.0.0.1:6380');
const name = `test-console-${randomBytes(6).toString('hex')}`;
const keys: LetterKeys = { key: (s) => `bull:${name}:${s}` };

function letter(i: number): DeadLetter {
  return {
    topic: 'orders',
    partition: i % 6,
    offset: String(i),
    key: `o-${i % 1000}`,
    value_base64: null,
    step: i % 10 === 0 ? 'decode' : 'apply',
    error: `e${i}`,
    attempts: [],
    dead_at: new Date(1_800_000_000_000 + i).toISOString(),
  };
}

/** Writes letters the way BullMQ keeps them: a hash each, held ones in `failed` by time. */
async function seed(n: number, waiting = 0): Promise<void> {
  for (let start = 0; start < n; start += 5000) {
    const p = redis.pipeline();
    for (let i = start; i < Math.min(n, start + 5000); i++) {
      const id = `orders:${i % 6}:${i}`;
      p.hset(keys.key(id), 'data', JSON.stringify(letter(i)), 'atm', '1');
      // Pairs share a score, so ties across page ends are exercised.
      if (i >= waiting) p.zadd(keys.key('failed'), 1_800_000_000_000 + Math.floor(i / 2), id);
      else p.lpush(keys.key('wait'), id);
    }
    await p.exec();
  }
}

async function drop(): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `bull:${name}:*`, 'COUNT', 5000);
    cursor = next;
    if (found.length) await redis.unlink(...found);
  } while (cursor !== '0');
}

before(drop);
after(async () => {
  await drop();
  await redis.del(`${name}:audit`);
  redis.disconnect();
});

describe('walkLetters', () => {
  it('pages through waiting then held letters, each once, newest first, with a filter', async () => {
    await drop();
    await seed(1000, 3);
    const seen: string[] = [];
    let cursor = decodeCursor(undefined);
    for (let pages = 0;; pages++) {
      assert.ok(pages < 100);
      const page = await walkLetters(redis, keys, cursor, (l) => l.data.step === 'apply', { limit: 37, budget: 1000, chunk: 16 });
      seen.push(...page.letters.map((l) => l.id));
      if (!page.next) break;
      cursor = decodeCursor(page.next);
    }
    assert.equal(seen.length, 900, 'every tenth is a decode letter');
    assert.equal(new Set(seen).size, 900);
    assert.deepEqual(seen.slice(0, 3), ['orders:2:2', 'orders:1:1', 'orders:3:999'], 'waiting ones (newest first), then the newest held');
    await drop();
  });

  it('answers within its budget at 100,000 letters, and goes on from the cursor', async () => {
    await drop();
    await seed(100_000);
    const started = performance.now();
    const first = await walkLetters(redis, keys, decodeCursor(undefined), () => true, { limit: 50, budget: 5000 });
    assert.equal(first.letters.length, 50);
    assert.equal(first.scanned, 50);
    assert.equal(first.letters[0]!.id, 'orders:3:99999');
    // A rare key: the page stops at the budget with a cursor rather than reading everything.
    const rare = await walkLetters(redis, keys, decodeCursor(undefined), (l) => l.data.key === 'o-7', { limit: 50, budget: 5000 });
    assert.equal(rare.scanned, 5000);
    assert.equal(rare.letters.length, 5);
    assert.ok(rare.next);
    const more = await walkLetters(redis, keys, decodeCursor(rare.next), (l) => l.data.key === 'o-7', { limit: 50, budget: 5000 });
    assert.equal(Number(more.letters[0]!.data.offset), Number(rare.letters.at(-1)!.data.offset) - 1000);
    const ms = performance.now() - started;
    assert.ok(ms < 5000, `three pages took ${ms} ms`);
    // A time window walks only its slice of the sorted set.
    const window = await walkLetters(redis, keys, decodeCursor(undefined), () => true, {
      limit: 1000,
      budget: 5000,
      from: 1_800_000_000_000 + 100,
      to: 1_800_000_000_000 + 109,
    });
    assert.equal(window.letters.length, 20);
    assert.equal(window.next, undefined);
  });

  it('refuses a cursor it did not give out', () => {
    assert.throws(() => decodeCursor('bm9wZQ'), CursorError);
    assert.throws(() => decodeCursor(Buffer.from('{"p":"w","i":-1}').toString('base64url')), CursorError);
  });
});

describe('AuditLog', () => {
  it('keeps the newest entries first, within its bound', async () => {
    const log = new AuditLog(redis, `${name}:audit`, 3);
    for (let i = 0; i < 5; i++) await log.append({ at: `t${i}`, who: 'ops', action: 'redrive', ids: [`id${i}`], confirmed: 1, done: 1, skipped: 0 });
    const entries = await log.list();
    assert.deepEqual(entries.map((e) => e.at), ['t4', 't3', 't2']);
    assert.equal(await redis.llen(`${name}:audit`), 3);
    await log.append({ at: 't5', who: 'ops', action: 'discard', ids: Array.from({ length: 150 }, (_, i) => `x${i}`), confirmed: 150, done: 150, skipped: 0 });
    assert.equal((await log.list(1))[0]!.ids!.length, 100, 'a long id list is cut; the counts stay');
  });
});

describe('Confirmations', () => {
  const c = new Confirmations(redis, `${name}:confirm:`);
  it('takes a token once, for the same action, selection and count', async () => {
    const token = await c.promise('redrive', { filter: { key: 'o-1', step: 'apply' } }, 2);
    await assert.rejects(c.redeem(token, 'redrive', { filter: { key: 'o-1', step: 'apply' } }, 3), /counted 2/);
    const again = await c.promise('redrive', { filter: { key: 'o-1', step: 'apply' } }, 2);
    await assert.rejects(c.redeem(again, 'discard', { filter: { key: 'o-1', step: 'apply' } }, 2), /another action or selection/);
    const third = await c.promise('redrive', { filter: { key: 'o-1', step: 'apply' } }, 2);
    assert.equal(await c.redeem(third, 'redrive', { filter: { step: 'apply', key: 'o-1' } }, 2), 2);
    await assert.rejects(c.redeem(third, 'redrive', { filter: { step: 'apply', key: 'o-1' } }, 2), ConfirmationError);
    await assert.rejects(c.redeem(undefined, 'redrive', { ids: ['a'] }, 1), /dry run first/);
  });
});
