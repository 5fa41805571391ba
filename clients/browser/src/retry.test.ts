import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { backoffMs, retryAfterMs, verdict } from './retry.ts';

describe('verdict', () => {
  it('2xx is done, 408/409/429/5xx and no answer come back, 413 splits, other 4xx drop', () => {
    for (const s of [200, 202, 207]) assert.equal(verdict(s, 3), 'done');
    for (const s of [0, 408, 409, 429, 500, 502, 503, 504]) assert.equal(verdict(s, 3), 'retry', String(s));
    assert.equal(verdict(413, 2), 'split');
    for (const s of [400, 401, 403, 404, 415, 422]) assert.equal(verdict(s, 3), 'drop', String(s));
    assert.equal(verdict(413, 1), 'drop', 'one event too large never passes');
  });
});

describe('retryAfterMs', () => {
  const now = Date.UTC(2026, 10, 23, 10, 0, 0);
  it('reads delta-seconds and HTTP-dates', () => {
    assert.equal(retryAfterMs('3', now), 3000);
    assert.equal(retryAfterMs(' 0 ', now), 0);
    assert.equal(retryAfterMs('Mon, 23 Nov 2026 10:00:07 GMT', now), 7000);
  });
  it('a date in the past is now; absent or unreadable is undefined', () => {
    assert.equal(retryAfterMs('Mon, 23 Nov 2026 09:00:00 GMT', now), 0);
    for (const h of [null, undefined, '', 'soon', '-1', '1.5']) assert.equal(retryAfterMs(h, now), undefined, String(h));
  });
  it('is capped', () => {
    assert.equal(retryAfterMs('999999', now), 600_000);
    assert.equal(retryAfterMs('999999', now, 5000), 5000);
  });
});

describe('backoffMs', () => {
  it('doubles from the base up to the cap, jittered within [d/2, d]', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
        const d = Math.min(60_000, 1000 * 2 ** (attempt - 1));
        const ms = backoffMs(attempt, undefined, () => r);
        return ms >= d / 2 && ms <= d;
      }),
    );
    assert.equal(backoffMs(1, undefined, () => 0), 500);
    assert.equal(backoffMs(3, undefined, () => 0.999999) < 4000, true);
    assert.equal(backoffMs(40, undefined, () => 0, { baseMs: 10, maxMs: 100 }), 50);
  });

  it('never sooner than Retry-After, and at most a fifth later', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1000, max: 120_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, after, r) => {
          const ms = backoffMs(attempt, after, () => r);
          return ms >= after && ms <= Math.max(after * 1.2, 1000 * 2 ** (attempt - 1)) + 1e-6;
        },
      ),
    );
  });

  it('spreads clients that failed together', () => {
    const delays = new Set(Array.from({ length: 50 }, () => Math.round(backoffMs(4, undefined, Math.random))));
    assert.ok(delays.size > 40, `${delays.size} distinct delays of 50`);
  });
});
