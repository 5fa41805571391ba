import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomHex } from './random-hex.ts';

test('ids are lower-case hex of the asked length, and do not repeat', () => {
  const seen = new Set<string>();
  // More than one pool's worth, so refills are crossed.
  for (let i = 0; i < 2000; i++) {
    const id = randomHex(i % 2 === 0 ? 16 : 8);
    assert.match(id, i % 2 === 0 ? /^[0-9a-f]{32}$/ : /^[0-9a-f]{16}$/);
    assert.ok(!seen.has(id), `repeated ${id}`);
    seen.add(id);
  }
});

test('an all-zero draw is never handed out: the next bytes are drawn', (t) => {
  randomHex(1); // the pool is not at its start, so the next 4096-byte id refills it
  const real = crypto.getRandomValues.bind(crypto);
  let calls = 0;
  t.mock.method(crypto, 'getRandomValues', <T extends ArrayBufferView | null>(array: T): T => {
    calls++;
    if (calls === 1) {
      new Uint8Array(array!.buffer, array!.byteOffset, array!.byteLength).fill(0);
      return array;
    }
    return real(array as Uint8Array) as unknown as T;
  });
  const id = randomHex(4096);
  assert.equal(calls, 2);
  assert.doesNotMatch(id, /^0+$/);
});

test('sizes outside 1 to 4096 bytes are refused', () => {
  for (const bad of [0, -1, 1.5, 4097, Number.NaN]) assert.throws(() => randomHex(bad), RangeError);
});
