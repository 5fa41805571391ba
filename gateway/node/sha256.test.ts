import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { sha256Hex } from '../../lib/api-keys.ts';
import { sha256HexSync } from './sha256.ts';

test('the same digest as the Web Crypto one, for any text', async () => {
  assert.equal(sha256HexSync(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  await fc.assert(fc.asyncProperty(fc.string({ unit: 'binary' }), async (text) => assert.equal(sha256HexSync(text), await sha256Hex(text))));
});
