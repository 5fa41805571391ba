import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isOutage } from './errors.ts';

describe('isOutage', () => {
  it('holds the batch for failures that pass with time or that an operator puts right', () => {
    for (const code of ['08006', '57P01', '53300', '40001', '40P01', '55P03', '28P01', '28000', '3D000', '42501', '42P01', '42883']) {
      assert.equal(isOutage(Object.assign(new Error('x'), { code })), true, code);
    }
    assert.equal(isOutage(new Error('wrapped', { cause: Object.assign(new Error('x'), { code: '42501' }) })), true, 'through a cause');
  });

  it('pins failures of an event on the event', () => {
    for (const code of ['23505', '23514', '22P02', '22003', 'P0001', '42P10']) {
      assert.equal(isOutage(Object.assign(new Error('x'), { code })), false, code);
    }
  });
});
