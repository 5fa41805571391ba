/**
 * ClickHouse's RowBinary input format, written straight into one growing Buffer: a String is
 * its UTF-8 length as an unsigned LEB128 number and then its bytes, integers are little-endian,
 * a DateTime is its seconds since the epoch as a UInt32. No text is escaped or parsed on either
 * side, and every string arrives byte for byte (ClickHouse 18.16 reads it; it has no
 * JSONCompactEachRow).
 *
 * Values that do not fit their column throw a RangeError instead of wrapping around, so a bad
 * event fails its own insert (and is searched for and retried like any failing event).
 */
import { Buffer } from 'node:buffer';

const TWO_32 = 2 ** 32;
const DECIMAL_U64 = /^[0-9]{1,20}$/;
const U64_MAX = 2n ** 64n - 1n;
/** Buffers kept for reuse: a few inserts' worth. */
const MAX_SPARE = 4;

export class RowBinaryWriter {
  // Buffers of their own (allocUnsafeSlow, never a slice of Node's shared pool), so one taken
  // and given back is whole.
  #buf: Buffer;
  #pos = 0;
  readonly #spare: Buffer[] = [];
  /** Buffers take() handed over and recycle() has not had back. */
  readonly #handedOver = new WeakSet<ArrayBufferLike>();

  /** @param initialBytes the first buffer's size; it doubles when full. @defaultValue 64 KiB */
  constructor(initialBytes = 64 * 1024) {
    this.#buf = Buffer.allocUnsafeSlow(initialBytes);
  }

  /** Bytes written since the last `take`. */
  get length(): number {
    return this.#pos;
  }

  /**
   * The bytes written so far. When they fill at least half the writer's buffer, that buffer is
   * handed over (no copy) and the writer goes on in one given back by `recycle`, or a new one;
   * fewer bytes are copied out, so a small batch does not hold a large buffer.
   */
  take(): Buffer {
    let out: Buffer;
    if (2 * this.#pos >= this.#buf.length) {
      out = this.#buf.subarray(0, this.#pos);
      this.#handedOver.add(this.#buf.buffer);
      let next = this.#spare.pop();
      if (next === undefined || next.length < this.#buf.length) next = Buffer.allocUnsafeSlow(this.#buf.length);
      this.#buf = next;
    } else {
      out = Buffer.allocUnsafe(this.#pos);
      this.#buf.copy(out, 0, 0, this.#pos);
    }
    this.#pos = 0;
    return out;
  }

  /**
   * Gives back what `take` returned, once nothing reads it any more: a buffer it handed over is
   * written again (a fresh one costs the allocation and, when large, the kernel's page faults).
   */
  recycle(taken: Buffer): void {
    if (!this.#handedOver.delete(taken.buffer)) return;
    if (this.#spare.length < MAX_SPARE) this.#spare.push(Buffer.from(taken.buffer));
  }

  /** Drops what was written since the last `take`. */
  reset(): void {
    this.#pos = 0;
  }

  string(s: string): void {
    // A UTF-16 code unit takes at most 3 UTF-8 bytes: room for the longest length prefix that
    // bound needs, then the bytes; a shorter prefix moves them back.
    const most = 3 * s.length;
    const reserved = varintSize(most);
    this.#ensure(reserved + most);
    const start = this.#pos + reserved;
    const n = this.#buf.write(s, start, 'utf8');
    const size = varintSize(n);
    if (size < reserved) this.#buf.copyWithin(this.#pos + size, start, start + n);
    let p = this.#pos;
    let rest = n;
    while (rest >= 0x80) {
      this.#buf[p++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    this.#buf[p++] = rest;
    this.#pos = p + n;
  }

  uint32(n: number): void {
    if (!(Number.isInteger(n) && n >= 0 && n < TWO_32)) throw new RangeError(`${n} is not a UInt32`);
    this.#ensure(4);
    this.#buf.writeUInt32LE(n, this.#pos);
    this.#pos += 4;
  }

  /** Seconds since the epoch (what DateTime holds) of a time in ms, rounded down. */
  dateTime(ms: number): void {
    const s = Math.floor(ms / 1000);
    if (!(Number.isInteger(s) && s >= 0 && s < TWO_32)) throw new RangeError(`${ms} ms is outside ClickHouse's DateTime`);
    this.uint32(s);
  }

  /** A safe integer, or a decimal string (Kafka offsets exceed 2^53 in principle). */
  uint64(n: number | string): void {
    this.#ensure(8);
    if (typeof n === 'string') {
      if (!DECIMAL_U64.test(n)) throw new RangeError(`${JSON.stringify(n)} is not a UInt64`);
      if (n.length <= 15) {
        writeUint64(this.#buf, this.#pos, Number(n));
      } else {
        const big = BigInt(n);
        if (big > U64_MAX) throw new RangeError(`${n} is not a UInt64`);
        this.#buf.writeBigUInt64LE(big, this.#pos);
      }
    } else {
      if (!(Number.isSafeInteger(n) && n >= 0)) throw new RangeError(`${n} is not a UInt64`);
      writeUint64(this.#buf, this.#pos, n);
    }
    this.#pos += 8;
  }

  #ensure(bytes: number): void {
    if (this.#pos + bytes <= this.#buf.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(2 * this.#buf.length, this.#pos + bytes));
    this.#buf.copy(grown, 0, 0, this.#pos);
    this.#buf = grown;
  }
}

/** Writes a safe non-negative integer as a little-endian UInt64 at `at` (e.g. to stamp a written row). */
export function writeUint64(buf: Buffer, at: number, n: number): void {
  buf.writeUInt32LE(n % TWO_32, at);
  buf.writeUInt32LE(Math.floor(n / TWO_32), at + 4);
}

function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}
