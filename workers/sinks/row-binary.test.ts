import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RowBinaryWriter, writeUint64 } from './row-binary.ts';

/** Reads RowBinary back the way ClickHouse does. */
class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  string(): string {
    let n = 0;
    let shift = 0;
    for (;;) {
      const b = this.buf[this.pos++]!;
      n += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) break;
    }
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  uint32(): number {
    const n = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return n;
  }
  uint64(): bigint {
    const n = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return n;
  }
}

describe('RowBinaryWriter', () => {
  it('strings of every length-prefix size read back, whatever their characters', () => {
    const strings = [
      '',
      'a',
      'a'.repeat(42),
      'a'.repeat(43),
      'a'.repeat(127),
      'a'.repeat(128),
      'é'.repeat(64),
      '🚢'.repeat(32),
      'x'.repeat(16_383),
      'x'.repeat(16_384),
    ];
    strings.push('tab\t nl\n nul\u0000 quote" back\\ ünïcödé 🚢', 'é'.repeat(100_000));
    const w = new RowBinaryWriter(16);
    for (const s of strings) w.string(s);
    const r = new Reader(w.take());
    for (const s of strings) assert.equal(r.string(), s);
    assert.equal(r.pos, r.buf.length, 'nothing after the last string');
  });

  it('writes the length prefix of the UTF-8 bytes, not of the UTF-16 units', () => {
    const w = new RowBinaryWriter();
    w.string('é'.repeat(64)); // 64 units, 128 bytes: a two-byte prefix
    assert.deepEqual([...w.take().subarray(0, 3)], [0x80, 0x01, 0xc3]);
  });

  it('integers are little-endian; DateTime is seconds, rounded down', () => {
    const w = new RowBinaryWriter();
    w.uint32(0x01020304);
    w.dateTime(1_764_000_000_999);
    w.uint64(2 ** 53 - 1);
    w.uint64('18446744073709551615');
    w.uint64('9007199254740993');
    w.uint64('42');
    const r = new Reader(w.take());
    assert.deepEqual([...r.buf.subarray(0, 4)], [4, 3, 2, 1]);
    r.pos = 4;
    assert.equal(r.uint32(), 1_764_000_000);
    assert.equal(r.uint64(), 2n ** 53n - 1n);
    assert.equal(r.uint64(), 2n ** 64n - 1n);
    assert.equal(r.uint64(), 9_007_199_254_740_993n);
    assert.equal(r.uint64(), 42n);
  });

  it('refuses values that do not fit their column instead of wrapping them', () => {
    const w = new RowBinaryWriter();
    for (const n of [-1, 2 ** 32, 1.5, Number.NaN]) assert.throws(() => w.uint32(n), RangeError);
    for (const n of [-1, 2 ** 53, 0.5, Number.NaN, '', '-1', '1e3', ' 1', '0x10', '18446744073709551616', '123456789012345678901']) {
      assert.throws(() => w.uint64(n), RangeError, String(n));
    }
    for (const ms of [-1, 2 ** 32 * 1000, Number.NaN]) assert.throws(() => w.dateTime(ms), RangeError);
    assert.equal(w.length, 0, 'nothing written by a refused value');
  });

  it('take() hands over what was written and goes on elsewhere; writeUint64 stamps in place', () => {
    const w = new RowBinaryWriter(4);
    w.uint64(1);
    const first = w.take();
    w.uint64(2);
    const second = w.take();
    writeUint64(first, 0, 2 ** 40 + 7);
    assert.equal(first.readBigUInt64LE(0), 2n ** 40n + 7n);
    assert.equal(second.readBigUInt64LE(0), 2n);
    w.uint32(9);
    w.reset();
    assert.equal(w.take().length, 0);
  });

  it('a recycled buffer is written again, whole, and never while it is handed out', () => {
    const w = new RowBinaryWriter(16);
    const fill = (n: number) => {
      w.uint64(n);
      w.uint64(n);
    };
    fill(1); // 16 bytes of 16: the buffer is handed over
    const first = w.take();
    fill(2);
    assert.equal(first.readBigUInt64LE(8), 1n, 'writing goes on in another buffer');
    w.recycle(first);
    const second = w.take();
    fill(3);
    const third = w.take();
    assert.equal(third.buffer, first.buffer, 'the recycled buffer carries the next rows');
    assert.notEqual(second.buffer, first.buffer);
    assert.equal(third.readBigUInt64LE(8), 3n);
    assert.equal(second.readBigUInt64LE(8), 2n);
  });

  it('a few bytes are copied out of a large buffer, and their copy is never written again', () => {
    const w = new RowBinaryWriter(1024);
    w.uint32(7);
    const small = w.take();
    assert.equal(small.length, 4);
    w.recycle(small);
    for (let i = 0; i < 128; i++) w.uint64(i); // a full buffer, handed over
    assert.equal(w.take().length, 1024);
    for (let i = 0; i < 1024; i++) w.uint64(0xffff_ffff); // as much as a recycled buffer could hold
    assert.equal(small.readUInt32LE(0), 7);
  });
});
