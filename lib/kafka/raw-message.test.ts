import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fetchedOf, headersOf, rawMessageOf } from './raw-message.ts';

describe('headersOf', () => {
  it('turns the binding headers into text, the last value of a repeated header', () => {
    assert.deepEqual(headersOf([{ 'ferry-tenant': Buffer.from('acme') }, { x: 'a' }, { x: Buffer.from('b') }]), { 'ferry-tenant': 'acme', x: 'b' });
    assert.equal(headersOf(undefined), undefined);
    assert.equal(headersOf([]), undefined);
  });
});

describe('rawMessageOf(fetchedOf())', () => {
  it('keeps key and value Buffers, the offset as text and the timestamp in ms', () => {
    const key = Buffer.from('k-1');
    const value = Buffer.from('v');
    const m = rawMessageOf(fetchedOf({
      topic: 't',
      partition: 3,
      offset: 9007199254740,
      key,
      value,
      size: 1,
      timestamp: 1_800_000_000_000,
      headers: [{ 'ferry-tenant': Buffer.from('acme') }],
    }));
    assert.deepEqual(m, { topic: 't', partition: 3, offset: '9007199254740', key, value, headers: { 'ferry-tenant': 'acme' }, timestamp: 1_800_000_000_000 });
    assert.equal(m.key, key, 'the same Buffer, not a copy');
  });

  it('says null for a missing key or value, and nothing for missing headers or timestamp', () => {
    const m = rawMessageOf(fetchedOf({ topic: 't', partition: 0, offset: 0, key: null, value: null, size: 0, timestamp: -1 }));
    assert.equal(m.key, null);
    assert.equal(m.value, null);
    assert.equal(m.headers, undefined);
    assert.equal(m.timestamp, undefined);
    assert.deepEqual(rawMessageOf(fetchedOf({ topic: 't', partition: 0, offset: 1, key: 'text', value: null, size: 0 })).key, Buffer.from('text'));
  });
});
