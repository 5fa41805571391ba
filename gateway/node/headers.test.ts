import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { RawHeaders } from './headers.ts';

const NAMES = ['Content-Type', 'content-type', 'AUTHORIZATION', 'Authorization', 'x-api-key', 'Origin', 'traceparent', 'Idempotency-Key', 'Prefer', 'X-A'];

test('get answers as the web Headers does: any case, repeated fields joined, null when absent', () => {
  const raw = ['Host', 'a', 'Content-Type', 'application/json', 'content-type', 'text/plain', 'X-Empty', '', 'Authorization', 'Bearer k'];
  const h = new RawHeaders(raw);
  assert.equal(h.get('content-type'), 'application/json, text/plain');
  assert.equal(h.get('CONTENT-TYPE'), 'application/json, text/plain');
  assert.equal(h.get('authorization'), 'Bearer k');
  assert.equal(h.get('x-empty'), '');
  assert.equal(h.get('origin'), null);
});

test('on any header lines, get equals the web Headers get', () => {
  const value = fc.string({ unit: fc.constantFrom('a', 'B', ' ', '\t', ',', ';', '=', '"', 'é', '1') });
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.constantFrom(...NAMES), value), { maxLength: 12 }), fc.constantFrom(...NAMES), (lines, asked) => {
      const web = new Headers();
      for (const [n, v] of lines) web.append(n, v);
      assert.equal(new RawHeaders(lines.flat()).get(asked), web.get(asked));
    }),
  );
});
