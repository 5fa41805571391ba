import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkCounters, checkSink, type Outcome, outcomeOf } from './checker.ts';

/** Requests 0..9: 0-5 answered 202, 6 refused (422), 7 timed out (0), 8 answered 503, 9 a 207. */
const statuses = [202, 202, 202, 202, 202, 202, 422, 0, 503, 207];
const outcome = (seq: number): Outcome | undefined => (seq < statuses.length ? outcomeOf(statuses[seq]!) : undefined);

function observed(copies: Record<string, number>, trace: Record<string, number>, raw?: Record<string, number>) {
  return {
    copies: new Map(Object.entries(copies)),
    rawCopies: raw ? new Map(Object.entries(raw)) : undefined,
    traceOf: (id: string) => trace[id],
  };
}

test('outcomes: 2xx acknowledged, 4xx refused, no answer and 5xx indeterminate', () => {
  assert.equal(outcomeOf(200), 'acknowledged');
  assert.equal(outcomeOf(202), 'acknowledged');
  assert.equal(outcomeOf(207), 'acknowledged');
  assert.equal(outcomeOf(400), 'refused');
  assert.equal(outcomeOf(429), 'refused');
  assert.equal(outcomeOf(0), 'indeterminate');
  assert.equal(outcomeOf(503), 'indeterminate');
});

test('every acknowledged id present once: ok', () => {
  const v = checkSink(new Set(['a', 'b']), observed({ a: 1, b: 1 }, { a: 0, b: 1 }), outcome);
  assert.equal(v.ok, true);
  assert.deepEqual([v.expected, v.present, v.lost, v.duplicates, v.phantoms], [2, 2, 0, 0, 0]);
});

test('a missing acknowledged id is lost', () => {
  const v = checkSink(new Set(['a', 'b', 'c']), observed({ a: 1 }, { a: 0 }), outcome);
  assert.equal(v.lost, 2);
  assert.deepEqual(v.samples.lost, ['b', 'c']);
  assert.equal(v.ok, false);
});

test('an id present twice in the exact view is a duplicate', () => {
  const v = checkSink(new Set(['a']), observed({ a: 2 }, { a: 0 }), outcome);
  assert.equal(v.duplicates, 1);
  assert.equal(v.ok, false);
});

test('copies only the raw table shows are merge-pending, not duplicates', () => {
  const v = checkSink(new Set(['a', 'b']), observed({ a: 1, b: 1 }, { a: 0, b: 0 }, { a: 3, b: 1 }), outcome);
  assert.equal(v.ok, true);
  assert.equal(v.duplicates, 0);
  assert.equal(v.mergePendingDuplicates, 1);
  assert.equal(v.rawRows, 4);
});

test('unexpected ids: allowed from unanswered or 5xx requests, phantoms otherwise', () => {
  const v = checkSink(
    new Set(['a']),
    observed(
      { a: 1, fromTimeout: 1, from503: 1, fromRefused: 1, fromAcked: 1, untraced: 1, foreign: 1 },
      { a: 0, fromTimeout: 7, from503: 8, fromRefused: 6, fromAcked: 2, foreign: 12345 },
    ),
    outcome,
  );
  assert.equal(v.unexpectedIndeterminate, 2);
  // Refused request, an acknowledged request whose answer did not name it, no trace, a request this run never sent.
  assert.equal(v.phantoms, 4);
  assert.deepEqual(new Set(v.samples.phantoms), new Set(['fromRefused', 'fromAcked', 'untraced', 'foreign']));
  assert.equal(v.ok, false);
});

test('an indeterminate event present twice is still a duplicate', () => {
  const v = checkSink(new Set(), observed({ x: 2 }, { x: 7 }), outcome);
  assert.equal(v.duplicates, 1);
  assert.equal(v.unexpectedIndeterminate, 1);
  assert.equal(v.ok, false);
});

test('counters: acknowledged <= observed <= acknowledged + indeterminate, per field', () => {
  const ack = new Map([['u1', 10], ['u2', 5]]);
  const maybe = new Map([['u2', 2], ['u3', 1]]);
  assert.equal(checkCounters(ack, maybe, new Map([['u1', 10], ['u2', 6], ['u3', 0]])).ok, true);
  assert.equal(checkCounters(ack, maybe, new Map([['u1', 10], ['u2', 7], ['u3', 1]])).ok, true);
  const under = checkCounters(ack, maybe, new Map([['u1', 9], ['u2', 5]]));
  assert.deepEqual([under.under, under.over, under.ok], [1, 0, false]);
  assert.deepEqual(under.samples, [{ field: 'u1', expected: 10, allowedExtra: 0, observed: 9 }]);
  const over = checkCounters(ack, maybe, new Map([['u1', 11], ['u2', 8], ['u4', 1]]));
  assert.deepEqual([over.under, over.over, over.fields], [0, 3, 4]);
});
