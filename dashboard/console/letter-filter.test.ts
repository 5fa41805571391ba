import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeadLetter } from '../../lib/queues/dead-letters.ts';
import { FilterError, isEmpty, matches, parseFilter } from './letter-filter.ts';
import { parseSelection } from './letter-actions.ts';

const letter = (over: Partial<DeadLetter> = {}): DeadLetter => ({
  topic: 'p.orders',
  partition: 1,
  offset: '7',
  key: 'o-1',
  value_base64: null,
  headers: { 'ferry-tenant': 'acme' },
  step: 'apply',
  error: 'Planned failure for order o-1',
  attempts: [],
  dead_at: '2026-11-25T10:00:00.000Z',
  ...over,
});

describe('parseFilter', () => {
  it('reads the terms, times as ISO or ms, and ignores empty and unknown ones', () => {
    assert.deepEqual(parseFilter({ topic: 'orders', key: '', step: 'apply', q: 'planned', nope: 'x', from: '2026-11-25T00:00:00Z', to: '1796600000000' }), {
      topic: 'orders',
      step: 'apply',
      q: 'planned',
      from: Date.parse('2026-11-25T00:00:00Z'),
      to: 1796600000000,
    });
    assert.equal(isEmpty(parseFilter({ key: '' })), true);
  });

  it('refuses times that are not times, from after to, and long or odd values', () => {
    assert.throws(() => parseFilter({ from: 'yesterday' }), FilterError);
    assert.throws(() => parseFilter({ from: '2026-11-26T00:00:00Z', to: '2026-11-25T00:00:00Z' }), /from is after to/);
    assert.throws(() => parseFilter({ q: 'x'.repeat(501) }), /too long/);
    assert.throws(() => parseFilter({ key: { $ne: 1 } }), /must be text/);
  });
});

describe('matches', () => {
  it('takes a letter when every given term holds', () => {
    assert.equal(matches(letter(), {}, 'p.'), true);
    assert.equal(matches(letter(), { topic: 'orders', key: 'o-1', tenant: 'acme', step: 'apply', q: 'PLANNED' }, 'p.'), true);
    assert.equal(matches(letter(), { topic: 'p.orders' }, 'p.'), true);
    assert.equal(matches(letter(), { from: Date.parse('2026-11-25T09:00:00Z'), to: Date.parse('2026-11-25T11:00:00Z') }, 'p.'), true);
  });

  it('leaves it on any term that does not', () => {
    for (
      const f of [{ topic: 'page_views' }, { key: 'o-2' }, { tenant: 'default' }, { step: 'decode' }, { q: 'timeout' }, {
        from: Date.parse('2026-11-25T10:00:01Z'),
      }, { to: Date.parse('2026-11-25T09:59:59Z') }]
    ) {
      assert.equal(matches(letter(), f, 'p.'), false, JSON.stringify(f));
    }
  });

  it("counts a letter without a tenant header as the default tenant's, and searches the redrive error too", () => {
    assert.equal(matches(letter({ headers: {} }), { tenant: 'default' }, ''), true);
    assert.equal(matches(letter(), { q: 'not replayed' }, 'p.', 'not replayed: bytes'), true);
  });
});

describe('parseSelection', () => {
  it('takes ids (deduplicated, sorted) or a filter with a term', () => {
    assert.deepEqual(parseSelection({ ids: ['b', 'a', 'b'] }), { ids: ['a', 'b'] });
    assert.deepEqual(parseSelection({ filter: { key: 'o-1' } }), { filter: { key: 'o-1' } });
  });

  it('refuses an empty filter (it would take every letter), no ids, and odd ids', () => {
    assert.throws(() => parseSelection({ filter: {} }), /at least one term/);
    assert.throws(() => parseSelection({ ids: [] }), /1 to 1000/);
    assert.throws(() => parseSelection({ ids: [1] }), /1 to 1000/);
    assert.throws(() => parseSelection({}), /ids or a filter/);
  });
});
