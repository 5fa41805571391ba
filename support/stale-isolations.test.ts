import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isolationIdIn, isStale, newIsolationId, parseIsolationId } from './stale-isolations.ts';

test('an isolation id names its start and its process, and reads back', () => {
  const id = newIsolationId(1_764_000_000_000, 4_194_304, () => 0.5);
  assert.match(id, /^t[0-9a-z]{20}$/);
  assert.deepEqual(parseIsolationId(id), { startedAt: 1_764_000_000_000, pid: 4_194_304 });
  assert.deepEqual(parseIsolationId(newIsolationId(5, 1, () => 0)), { startedAt: 5, pid: 1 });
  // An id made before ids named their process.
  assert.deepEqual(parseIsolationId('tmww6317cf2d457'), { startedAt: parseInt('mww6317c', 36) });
  assert.equal(parseIsolationId('orders'), undefined);
});

test('ids are found only where isolations put them', () => {
  const id = newIsolationId();
  for (
    const name of [`ferry_${id}`, `${id}.orders`, `ferry:${id}:page_views:by_url`, `bull:${id}.ferry-retries:meta`, `${id}.ferry-retries:parked:orders:o-1`]
  ) {
    assert.equal(isolationIdIn(name), id, name);
  }
  for (const name of ['ferry_test', 'orders', 'ferry:order:default:o-1', `ferry:seen:pv:${id}`, `x${id}.orders`, `ferry_${id}x`, 'bull:ferry-retries:meta']) {
    assert.equal(isolationIdIn(name), undefined, name);
  }
});

test('stale: the named process is gone, or an old-style id is older than the limit', () => {
  const dead = newIsolationId(Date.now(), 12345);
  assert.equal(isStale(dead, { isAlive: () => false }), true);
  assert.equal(isStale(dead, { isAlive: () => true }), false);
  // This process's own isolations are never stale.
  assert.equal(isStale(newIsolationId(), { isAlive: () => false }), false);
  const old = `t${(1_000_000_000_000).toString(36)}abcdef`;
  assert.equal(isStale(old, { now: 1_000_000_000_000 + 4 * 3_600_000 }), true);
  assert.equal(isStale(old, { now: 1_000_000_000_000 + 3_600_000 }), false);
  assert.equal(isStale('orders'), false);
});
