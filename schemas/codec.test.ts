import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import avro from 'avsc';
import { Codec } from './codec.ts';
import { loadRegistry, type Registry, type SchemaVersion } from './registry.ts';
import type { SchemaObject } from './validate.ts';
import { frame, HEADER_SIZE, MAGIC_BYTE, unframe, WireFormatError } from './wire-format.ts';

const registryFile = JSON.parse(readFileSync(new URL('./registry.json', import.meta.url), 'utf8')) as {
  topics: Record<string, { key: string; versions: { id: number; file: string }[] }>;
};
const idOf = (topic: string): number => registryFile.topics[topic]!.versions.at(-1)!.id;

const registry = loadRegistry();
const codec = new Codec(registry);

const order = {
  event_id: '0b7e2c1a-3f4d-4a5b-8c6d-7e8f9a0b1c2d',
  received_at: 1_800_000_000_123,
  order_id: 'o-1',
  customer_id: 'c-1',
  status: 'shipped',
  amount_cents: 123_456_789_012,
  currency: 'EUR',
  items: [
    { sku: 'A', quantity: 3, price_cents: 100 },
    { sku: 'B', quantity: 1, price_cents: 0 },
  ],
  occurred_at: 1_799_999_999_000,
};

const pageView = {
  event_id: '9f1c2d3e-4b5a-4c6d-9e8f-0a1b2c3d4e5f',
  received_at: 1_800_000_000_000,
  user_id: 'u-1',
  url: 'https://shop.example/p/1',
  referrer: null,
  occurred_at: 1_799_999_000_000,
};

/** avsc decodes nested records as class instances; compare plain data. */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

function assertWireError(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof WireFormatError, `expected WireFormatError, got ${String(err)}`);
    assert.equal(err.retriable, false);
    assert.equal(err.name, 'WireFormatError');
    assert.match(err.message, message);
    return true;
  });
}

describe('Codec round trip', () => {
  it('encodes and decodes an order', () => {
    const bytes = codec.encode('orders', order);
    const decoded = codec.decode(bytes);
    assert.equal(decoded.topic, 'orders');
    assert.equal(decoded.schemaId, idOf('orders'));
    assert.deepEqual(plain(decoded.value), order);
  });

  it('encodes and decodes a page view, with and without a referrer', () => {
    for (const value of [pageView, { ...pageView, referrer: 'https://ref.example/' }]) {
      const decoded = codec.decode(codec.encode('page_views', value));
      assert.equal(decoded.topic, 'page_views');
      assert.equal(decoded.schemaId, idOf('page_views'));
      assert.deepEqual(plain(decoded.value), value);
    }
  });

  it('decodes a Buffer that is a view into a larger buffer', () => {
    const bytes = codec.encode('orders', order);
    const big = Buffer.alloc(bytes.length + 16);
    big.set(bytes, 7);
    const decoded = codec.decode(big.subarray(7, 7 + bytes.length));
    assert.deepEqual(plain(decoded.value), order);
  });

  it('frames with magic byte 0 and the big-endian schema id from registry.json', () => {
    for (const [topic, value] of [['orders', order], ['page_views', pageView]] as const) {
      const bytes = codec.encode(topic, value);
      assert.equal(bytes[0], 0);
      const id = idOf(topic);
      assert.deepEqual([...bytes.subarray(1, 5)], [(id >>> 24) & 0xff, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff]);
      assert.equal(Buffer.from(bytes).readUInt32BE(1), id);
    }
  });

  it('each encoded record has bytes of its own, and a record larger than the scratch space round-trips', () => {
    const a = codec.encode('orders', order);
    const copy = Uint8Array.from(a);
    codec.encode('orders', { ...order, order_id: 'o-other' });
    assert.deepEqual(Uint8Array.from(a), copy, 'a later encode does not overwrite an earlier record');
    const items = Array.from({ length: 3000 }, (_, i) => ({ sku: `SKU-${i}-${'x'.repeat(40)}`, quantity: 1, price_cents: i }));
    const big = { ...order, items };
    const bytes = codec.encode('orders', big);
    assert.ok(bytes.length > 64 * 1024);
    assert.deepEqual(plain(codec.decode(bytes).value), big);
    assert.deepEqual(plain(codec.decode(codec.encode('orders', order)).value), order, 'small records still encode after the scratch grew');
  });

  it('refuses to encode for a topic without a schema, or a value the schema does not fit', () => {
    assert.throws(() => codec.encode('nope', order), /no schema for topic nope/);
    assert.throws(() => codec.encode('orders', { ...order, status: 'lost' }));
  });
});

describe('wire format', () => {
  it('frame and unframe are inverse, ids up to 2^32-1', () => {
    const body = new Uint8Array([9, 8, 7]);
    for (const id of [0, 1, 256, 0x01020304, 0xffffffff]) {
      const framed = frame(id, body);
      assert.equal(framed.length, HEADER_SIZE + 3);
      assert.equal(framed[0], MAGIC_BYTE);
      const { schemaId, avro: rest } = unframe(framed);
      assert.equal(schemaId, id);
      assert.deepEqual([...rest], [9, 8, 7]);
    }
  });

  it('accepts a header with an empty body', () => {
    assert.deepEqual(unframe(new Uint8Array([0, 0, 0, 0, 5])).schemaId, 5);
  });
});

describe('Codec.decode errors are WireFormatError, not retriable', () => {
  it('garbage text', () => {
    assertWireError(() => codec.decode(new TextEncoder().encode('{"order_id":"o-1"}')), /magic byte 123/);
  });

  it('garbage body behind a valid header', () => {
    const junk = new Uint8Array(40).fill(0xff);
    assertWireError(() => codec.decode(frame(idOf('orders'), junk)), /does not decode with schema 1/);
  });

  it('a buffer shorter than the header', () => {
    for (const bytes of [new Uint8Array(0), new Uint8Array([0, 0, 0, 1])]) {
      assertWireError(() => codec.decode(bytes), /shorter than the 5-byte header/);
    }
  });

  it('a wrong magic byte', () => {
    const bytes = codec.encode('orders', order);
    bytes[0] = 1;
    assertWireError(() => codec.decode(bytes), /unknown magic byte 1/);
  });

  it('an unknown schema id', () => {
    const body = codec.encode('orders', order).subarray(HEADER_SIZE);
    assertWireError(() => codec.decode(frame(999, body)), /unknown schema id 999/);
  });

  it('a truncated body', () => {
    const bytes = codec.encode('orders', order);
    for (const cut of [1, 3, bytes.length - HEADER_SIZE - 1]) {
      assertWireError(() => codec.decode(bytes.subarray(0, bytes.length - cut)), /does not decode/);
    }
  });

  it('trailing bytes after the record', () => {
    const bytes = codec.encode('page_views', pageView);
    const longer = new Uint8Array(bytes.length + 2);
    longer.set(bytes);
    assertWireError(() => codec.decode(longer), /does not decode/);
  });
});

describe('schema compatibility', () => {
  /** Throws when `reader` cannot read data written with `writer`. */
  const canRead = (reader: unknown, writer: unknown) => avro.Type.forSchema(reader as avro.Schema).createResolver(avro.Type.forSchema(writer as avro.Schema));

  it('every version reads data written with each earlier version of its topic', () => {
    assert.ok(registry.topics.size >= 2);
    for (const [topic, entry] of registry.topics) {
      assert.equal(entry.latest, entry.versions.at(-1));
      entry.versions.forEach((newer, i) => {
        for (const older of entry.versions.slice(0, i)) {
          assert.doesNotThrow(() => canRead(newer.schema, older.schema), `${topic} v${newer.version} cannot read v${older.version}`);
        }
      });
    }
  });

  const ordersV1 = registry.topics.get('orders')!.latest.schema;
  const withField = (field: Record<string, unknown>): SchemaObject => ({ ...ordersV1, fields: [...ordersV1.fields!, field] as SchemaObject['fields'] });

  it('detects a new required field without a default', () => {
    assert.throws(() => canRead(withField({ name: 'coupon', type: 'string' }), ordersV1));
  });

  it('detects a changed field type and a removed enum symbol', () => {
    const retyped = { ...ordersV1, fields: ordersV1.fields!.map((f) => (f.name === 'currency' ? { ...f, type: 'int' } : f)) };
    assert.throws(() => canRead(retyped, ordersV1));
    const narrowed = {
      ...ordersV1,
      fields: ordersV1.fields!.map((f) => (f.name === 'status' ? { ...f, type: { type: 'enum', name: 'OrderStatus', symbols: ['created', 'paid'] } } : f)),
    };
    assert.throws(() => canRead(narrowed, ordersV1));
  });

  it('accepts a new field with a default, and the Codec resolves old records to the latest version', () => {
    const v2 = withField({ name: 'coupon', type: ['null', 'string'], default: null });
    assert.doesNotThrow(() => canRead(v2, ordersV1));

    const v1: SchemaVersion = { id: 1, version: 1, schema: ordersV1 };
    const latest: SchemaVersion = { id: 7, version: 2, schema: v2 };
    const twoVersions: Registry = {
      topics: new Map([['orders', { topic: 'orders', key: 'order_id', versions: [v1, latest], latest }]]),
      byId: new Map([
        [1, { topic: 'orders', version: v1 }],
        [7, { topic: 'orders', version: latest }],
      ]),
    };
    const evolved = new Codec(twoVersions);
    const oldRecord = codec.encode('orders', order);
    const decoded = evolved.decode(oldRecord);
    assert.equal(decoded.schemaId, 1);
    assert.deepEqual(plain(decoded.value), { ...order, coupon: null });
    // Decoding twice reuses the cached resolver and gives the same answer.
    assert.deepEqual(plain(evolved.decode(oldRecord).value), { ...order, coupon: null });

    const newRecord = evolved.encode('orders', { ...order, coupon: 'SALE' });
    assert.equal(Buffer.from(newRecord).readUInt32BE(1), 7);
    assert.equal(evolved.decode(newRecord).value.coupon, 'SALE');
  });
});
