import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chunks } from './chunks.ts';

describe('chunks', () => {
  it('slices in order, the last slice shorter', () => {
    assert.deepEqual(chunks([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
    assert.deepEqual(chunks([1, 2, 3, 4], 2), [[1, 2], [3, 4]]);
    assert.deepEqual(chunks([], 3), []);
  });
  it('refuses a size below 1', () => {
    assert.throws(() => chunks([1], 0), RangeError);
  });
});
