import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { printable, printableJson } from './printable.ts';

const raw = /[\p{C}\p{Zl}\p{Zp}]/u;

describe('printable', () => {
  it('escapes terminal controls, bidi overrides, separators and backslashes', () => {
    assert.equal(printable('o-1'), 'o-1');
    assert.equal(printable('a\x1b[2Jb'), 'a\\u001b[2Jb');
    assert.equal(printable('ok\rFAKE\tx\ny'), 'ok\\rFAKE\\tx\\ny');
    assert.equal(printable('\u202egnp.exe'), '\\u202egnp.exe');
    assert.equal(printable('\x85\u2028\u2029\x7f\x00'), '\\u0085\\u2028\\u2029\\u007f\\u0000');
    assert.equal(printable('\ud800x'), '\\ud800x');
    assert.equal(printable('a\\u0000'), 'a\\\\u0000', 'a backslash is escaped too, so output is unambiguous');
    assert.equal(printable('crème 😀 東京'), 'crème 😀 東京', 'printable text is left as it is');
  });

  it('never lets a non-printable through, and is one-to-one (fast-check)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        assert.doesNotMatch(printable(a), raw);
        if (a !== b) assert.notEqual(printable(a), printable(b));
      }),
    );
  });
});

describe('printableJson', () => {
  it('stays JSON that reads back the same, with no raw non-printables', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' })), (value) => {
        const text = printableJson(value);
        assert.doesNotMatch(text.replace(/\n/g, ''), raw);
        assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(value)));
      }),
    );
  });
});
