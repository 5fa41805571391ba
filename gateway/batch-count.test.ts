import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { countArrayElements, countNdjsonLines } from './batch-count.ts';

describe('countArrayElements', () => {
  it('counts top-level elements, not nested ones or commas in strings', () => {
    assert.equal(countArrayElements('[]', 10), 0);
    assert.equal(countArrayElements(' [ ] ', 10), 0);
    assert.equal(countArrayElements('[1]', 10), 1);
    assert.equal(countArrayElements('[{"a":[1,2,3],"b":"x,y]"},"\\",",[[],[]]]', 10), 3);
    assert.equal(countArrayElements('{"a":[1,2]}', 10), undefined);
    assert.equal(countArrayElements('"[1,2]"', 10), undefined);
  });

  it('stops once past the limit', () => {
    assert.equal(countArrayElements(`[${'{},'.repeat(100_000)}{}]`, 500), 501);
  });

  it('agrees with JSON.parse on every array (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 30 }), fc.integer({ min: 0, max: 40 }), (values, limit) => {
        const text = JSON.stringify(values, null, values.length % 2 ? 1 : undefined);
        const n = JSON.parse(text).length as number;
        const counted = countArrayElements(text, limit)!;
        if (n > limit) assert.ok(counted > limit && counted <= n);
        else assert.equal(counted, n);
      }),
    );
  });
});

describe('countNdjsonLines', () => {
  it('counts non-blank lines and stops past the limit', () => {
    assert.equal(countNdjsonLines('', 10), 0);
    assert.equal(countNdjsonLines('{}\n\n  \r\n{}', 10), 2);
    assert.equal(countNdjsonLines('{}\n{}\n', 10), 2);
    assert.equal(countNdjsonLines('{}\n'.repeat(100_000), 500), 501);
  });
});
