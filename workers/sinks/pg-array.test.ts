import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { arrayJson, arrayLiteral, arrayNumber, arrayText } from './pg-array.ts';

/** Reads a one-dimensional array literal the way PostgreSQL's array_in does (quoted elements, or unquoted without specials). */
function parse(literal: string): string[] {
  assert.ok(literal.startsWith('{') && literal.endsWith('}'));
  const out: string[] = [];
  let i = 1;
  while (i < literal.length - 1) {
    let s = '';
    if (literal[i] === '"') {
      i++;
      while (literal[i] !== '"') {
        if (literal[i] === '\\') i++;
        s += literal[i++];
      }
      i++;
    } else {
      while (literal[i] !== ',' && literal[i] !== '}') s += literal[i++];
    }
    out.push(s);
    if (literal[i] === ',') i++;
  }
  return out;
}

const AWKWARD = ['', 'plain', 'quote " inside', 'back\\slash', '\\"', '{braces}', 'comma, here', ' spaces ', 'NULL', 'tab\tnl\ncr\r', 'ünïcödé 🚢'];

describe('array literals', () => {
  it('text elements come back as they went in, whatever they hold', () => {
    assert.deepEqual(parse(arrayLiteral(AWKWARD.map(arrayText))), AWKWARD);
  });

  it('JSON texts come back as they went in', () => {
    const values = [[], [{ sku: 'a"b', quantity: 1 }], [{ sku: 'back\\slash\nnew line \u0001 \ud800 🚢' }], { s: '"\\' }];
    const texts = values.map((v) => JSON.stringify(v));
    assert.deepEqual(parse(arrayLiteral(texts.map(arrayJson))), texts);
    assert.deepEqual(parse(arrayLiteral(texts.map(arrayJson))), parse(arrayLiteral(texts.map(arrayText))));
  });

  it('numbers go unquoted, and only finite ones', () => {
    assert.equal(arrayLiteral([arrayNumber(0), arrayNumber(-3), arrayNumber(2 ** 53 - 2)]), '{0,-3,9007199254740990}');
    for (const n of [Number.NaN, Infinity]) assert.throws(() => arrayNumber(n), RangeError);
  });

  it('an empty list is the empty array', () => {
    assert.equal(arrayLiteral([]), '{}');
  });
});
