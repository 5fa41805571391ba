import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { arrayLiteral, escapeText, quotedJson, textArrayLiteral } from './pg-array.ts';

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

const AWKWARD = ['', 'plain', 'quote " inside', 'back\\slash', '\\"', '{braces}', 'comma, here', '","', ' spaces ', 'NULL', 'tab\tnl\ncr\r', 'ünïcödé 🚢'];

describe('array literals', () => {
  it('text elements come back as they went in, whatever they hold', () => {
    assert.deepEqual(parse(textArrayLiteral(AWKWARD.map(escapeText))), AWKWARD);
    assert.deepEqual(parse(textArrayLiteral([''])), ['']);
  });

  it('escapeText gives back the same string when there is nothing to escape', () => {
    const s = 'nothing-to-escape';
    assert.equal(escapeText(s), s);
  });

  it('JSON texts come back as they went in', () => {
    const values = [[], [{ sku: 'a"b', quantity: 1 }], [{ sku: 'back\\slash\nnew line \u0001 \ud800 🚢' }], { s: '"\\' }];
    const texts = values.map((v) => JSON.stringify(v));
    assert.deepEqual(parse(arrayLiteral(texts.map(quotedJson))), texts);
  });

  it('numbers and timestamps go unquoted; no elements is the empty array', () => {
    assert.equal(arrayLiteral([0, -3, 2 ** 53 - 2]), '{0,-3,9007199254740990}');
    assert.equal(arrayLiteral([new Date(0).toISOString()]), '{1970-01-01T00:00:00.000Z}');
    assert.equal(arrayLiteral([]), '{}');
    assert.equal(textArrayLiteral([]), '{}');
  });
});
