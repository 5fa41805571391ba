import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { orderDoc, type OrderRow, rowVersion } from './order-cache.ts';

const row = (occurredMs: number, updatedMs: number): OrderRow => ({
  tenant: 'acme',
  order_id: 'o-1',
  customer_id: 'c-1',
  status: 'paid',
  amount_cents: '1250',
  currency: 'EUR',
  items: [],
  occurred_at: new Date(occurredMs),
  updated_at: new Date(updatedMs),
  event_id: '0b7e2c1a-3f4d-4a5b-8c6d-7e8f9a0b1c2d',
  source_offset: '42',
});

describe('orderDoc', () => {
  it('formats each row its own times, in any sequence of repeated and changing ones', () => {
    const times = [[0, 1], [0, 1], [5, 1], [5, 7], [0, 7], [1_800_000_000_123, 1_800_000_000_124], [1_800_000_000_123, 1_800_000_000_124]];
    for (const [occurred, updated] of times) {
      const doc = orderDoc(row(occurred!, updated!));
      assert.equal(doc.occurred_at, new Date(occurred!).toISOString());
      assert.equal(doc.updated_at, new Date(updated!).toISOString());
      assert.equal(doc.amount_cents, 1250);
    }
  });

  it('refuses an invalid time, and formats the next valid one', () => {
    assert.throws(() => orderDoc(row(Number.NaN, 0)), RangeError);
    assert.equal(orderDoc(row(0, 0)).occurred_at, '1970-01-01T00:00:00.000Z');
  });
});

describe('rowVersion', () => {
  it('orders by occurred_at, then offset, as text', () => {
    assert.ok(rowVersion(row(1000, 0)) < rowVersion({ ...row(1000, 0), source_offset: '43' }));
    assert.ok(rowVersion({ ...row(999, 0), source_offset: '99999' }) < rowVersion(row(1000, 0)));
  });
});
