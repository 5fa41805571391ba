import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PackedLayoutError, unpackMessages } from './packed-messages.ts';
import type { FetchedRecord } from './raw-message.ts';

interface Packable {
  topic: number;
  partition: number;
  offset: number;
  epoch: number;
  timestamp: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: [string, Uint8Array | null][];
}

/** The layout as the binding's HandlePackedCallback writes it (src/workers.cc in the patch). */
function pack(records: Packable[]): Buffer {
  const parts: Buffer[] = [];
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    parts.push(b);
  };
  const i32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    parts.push(b);
  };
  const f64 = (v: number) => {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    parts.push(b);
  };
  const bytes = (v: Uint8Array | null) => {
    if (v === null) return i32(-1);
    i32(v.length);
    parts.push(Buffer.from(v));
  };
  u32(records.length);
  for (const r of records) {
    u32(r.topic);
    i32(r.partition);
    f64(r.offset);
    i32(r.epoch);
    f64(r.timestamp);
    bytes(r.key);
    bytes(r.value);
    u32(r.headers.length);
    for (const [name, value] of r.headers) {
      const n = Buffer.from(name, 'utf8');
      u32(n.length);
      parts.push(n);
      bytes(value);
    }
  }
  return Buffer.concat(parts);
}

/** What unpackMessages should make of one packed record. */
function expected(r: Packable, topics: string[]): FetchedRecord {
  let headers: Record<string, string> | undefined;
  for (const [name, value] of r.headers) (headers ??= {})[name] = value === null ? '' : Buffer.from(value).toString('utf8');
  return {
    topic: topics[r.topic]!,
    partition: r.partition,
    offset: r.offset,
    leaderEpoch: r.epoch >= 0 ? r.epoch : undefined,
    key: r.key === null ? null : Buffer.from(r.key),
    value: r.value === null ? null : Buffer.from(r.value),
    headers,
    timestamp: r.timestamp >= 0 ? r.timestamp : undefined,
  };
}

const topics = ['ferry.orders', 'ferry.page_views', 'ünïcode'];
const packable: fc.Arbitrary<Packable> = fc.record({
  topic: fc.integer({ min: 0, max: topics.length - 1 }),
  partition: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  offset: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  epoch: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
  timestamp: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 4_102_444_800_000 })),
  key: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null }),
  value: fc.option(fc.uint8Array({ maxLength: 300 }), { nil: null }),
  headers: fc.array(fc.tuple(fc.string({ maxLength: 20 }), fc.option(fc.uint8Array({ maxLength: 20 }), { nil: null })), { maxLength: 3 }),
});

describe('unpackMessages', () => {
  it('reads every field back, with null keys and values, no timestamp and text headers', () => {
    const packed = pack([
      {
        topic: 1,
        partition: 4,
        offset: 9_007_199_254_740,
        epoch: 3,
        timestamp: 1_800_000_000_000,
        key: Buffer.from('u-1'),
        value: Buffer.from('v'),
        headers: [['ferry-tenant', Buffer.from('acme')]],
      },
      { topic: 0, partition: 0, offset: 0, epoch: -1, timestamp: -1, key: null, value: null, headers: [] },
    ]);
    const [a, b] = unpackMessages(packed, topics);
    assert.deepEqual(a, {
      topic: 'ferry.page_views',
      partition: 4,
      offset: 9_007_199_254_740,
      leaderEpoch: 3,
      key: Buffer.from('u-1'),
      value: Buffer.from('v'),
      headers: { 'ferry-tenant': 'acme' },
      timestamp: 1_800_000_000_000,
    });
    assert.deepEqual(b, {
      topic: 'ferry.orders',
      partition: 0,
      offset: 0,
      leaderEpoch: undefined,
      key: null,
      value: null,
      headers: undefined,
      timestamp: undefined,
    });
  });

  it('hands out views into the one Buffer, not copies', () => {
    const packed = pack([{ topic: 0, partition: 0, offset: 1, epoch: 0, timestamp: 0, key: Buffer.from('k'), value: Buffer.from('value'), headers: [] }]);
    const [r] = unpackMessages(packed, topics);
    assert.equal(r!.value!.buffer, packed.buffer);
    assert.equal(r!.key!.buffer, packed.buffer);
  });

  it('keeps an empty key or value apart from a null one, and reads a header without a value as empty', () => {
    const packed = pack([{
      topic: 0,
      partition: 0,
      offset: 1,
      epoch: 0,
      timestamp: 0,
      key: new Uint8Array(0),
      value: new Uint8Array(0),
      headers: [['h', new Uint8Array(0)], ['gone', null]],
    }]);
    const [r] = unpackMessages(packed, topics);
    assert.deepEqual(r!.key, Buffer.alloc(0));
    assert.deepEqual(r!.value, Buffer.alloc(0));
    assert.deepEqual(r!.headers, { h: '', gone: '' }, 'a header without a value reads as the stock consume() gives it');
  });

  it('reads back whatever the binding packs (property)', () => {
    fc.assert(
      fc.property(fc.array(packable, { maxLength: 20 }), (records) => {
        assert.deepEqual(unpackMessages(pack(records), topics), records.map((r) => expected(r, topics)));
      }),
    );
  });

  it('reads back headers that repeat, or differ in bytes of the same length, from record to record (property)', () => {
    // Few names and values, several of one length: the text kept from the last record must be
    // reused only for the same bytes.
    const name = fc.constantFrom('ferry-tenant', 'traceparent', 'tenant-ferry', 'a', 'b');
    const value = fc.constantFrom('acme', 'abcd', 'dcba', '', 'ü', 'x'.repeat(80), 'y'.repeat(80)).map((v) => Buffer.from(v));
    const repeating = fc.record({ base: packable, headers: fc.array(fc.tuple(name, fc.option(value, { nil: null })), { maxLength: 3 }) })
      .map(({ base, headers }) => ({ ...base, headers }));
    fc.assert(
      fc.property(fc.array(repeating, { maxLength: 30 }), (records) => {
        assert.deepEqual(unpackMessages(pack(records), topics), records.map((r) => expected(r, topics)));
      }),
    );
  });

  it('refuses a Buffer cut short or with bytes left over, with PackedLayoutError (property)', () => {
    fc.assert(
      fc.property(fc.array(packable, { minLength: 1, maxLength: 5 }), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 }), (records, cut, extra) => {
        const packed = pack(records);
        const at = cut % packed.length;
        assert.throws(() => unpackMessages(packed.subarray(0, at), topics), PackedLayoutError);
        assert.throws(() => unpackMessages(Buffer.concat([packed, extra]), topics), PackedLayoutError);
      }),
    );
  });

  it('refuses a topic index past the topics it was given', () => {
    const packed = pack([{ topic: 5, partition: 0, offset: 1, epoch: 0, timestamp: 0, key: null, value: null, headers: [] }]);
    assert.throws(() => unpackMessages(packed, topics), PackedLayoutError);
  });

  it('reads an empty call', () => {
    assert.deepEqual(unpackMessages(pack([]), topics), []);
  });
});
