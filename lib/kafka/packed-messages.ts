/**
 * Reads what the binding's `consumePacked()` hands over: every record of one consume call in one
 * Buffer (patches/kafka-javascript-consume-packed.patch). The stock consume() builds an object
 * and a Buffer per key, value and header for every record, which cost the worker more CPU than
 * everything else it does with a record; here keys and values are views into the one Buffer.
 *
 * Layout, little-endian: u32 count, then per record u32 topic index (into `topics`),
 * i32 partition, f64 offset, i32 leader epoch (-1 when unknown), f64 timestamp (-1 when none),
 * key and value each as i32 length (-1 when null) and bytes, u32 header count and per header
 * the name as u32 length and UTF-8 bytes, the value as i32 length (-1 when null) and bytes.
 * Packing runs on libuv's thread pool, inside the consume call; this thread only reads.
 */
import type { FetchedRecord } from './raw-message.ts';

/** The packed Buffer does not hold what its own lengths say: a fault in the binding, not in a record. */
export class PackedLayoutError extends Error {
  override name = 'PackedLayoutError';
}

/** Header text up to this many bytes is compared with the last record's; longer text (a trace context) differs anyway. */
const SHORT_TEXT = 64;

function sameBytes(b: Buffer, x: number, y: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (b[x + i] !== b[y + i]) return false;
  return true;
}

export function unpackMessages(packed: Buffer, topics: readonly string[]): FetchedRecord[] {
  const end = packed.length;
  // Header names, and values such as the tenant, repeat record after record: the text at each
  // header's name and value is kept, and a record whose bytes there are the same reuses it
  // instead of making another string.
  const lastAt: number[] = [];
  const lastLen: number[] = [];
  const lastText: string[] = [];
  const text = (slot: number, at: number, len: number): string => {
    const prev = lastAt[slot];
    if (prev !== undefined && lastLen[slot] === len && len <= SHORT_TEXT && sameBytes(packed, prev, at, len)) return lastText[slot]!;
    const s = packed.toString('utf8', at, at + len);
    lastAt[slot] = at;
    lastLen[slot] = len;
    lastText[slot] = s;
    return s;
  };
  const need = (at: number, n: number) => {
    if (at + n > end) throw new PackedLayoutError(`packed records end at ${end}, a field needs ${at + n}`);
  };
  let p = 4;
  /** An i32 length (-1: null) and that many bytes, as a view; moves p past them. */
  const bytes = (): Buffer | null => {
    need(p, 4);
    const len = packed.readInt32LE(p);
    p += 4;
    if (len < 0) return null;
    need(p, len);
    p += len;
    return packed.subarray(p - len, p);
  };
  need(0, 4);
  const count = packed.readUInt32LE(0);
  const out = new Array<FetchedRecord>(count);
  for (let i = 0; i < count; i++) {
    need(p, 28);
    const topic = topics[packed.readUInt32LE(p)];
    if (topic === undefined) throw new PackedLayoutError(`topic index ${packed.readUInt32LE(p)} of ${topics.length}`);
    const partition = packed.readInt32LE(p + 4);
    const offset = packed.readDoubleLE(p + 8);
    const epoch = packed.readInt32LE(p + 16);
    const timestamp = packed.readDoubleLE(p + 20);
    p += 28;
    const key = bytes();
    const value = bytes();
    need(p, 4);
    const headerCount = packed.readUInt32LE(p);
    p += 4;
    let headers: Record<string, string> | undefined;
    for (let h = 0; h < headerCount; h++) {
      need(p, 4);
      const nameLen = packed.readUInt32LE(p);
      p += 4;
      need(p, nameLen + 4);
      const name = text(2 * h, p, nameLen);
      p += nameLen;
      const len = packed.readInt32LE(p);
      p += 4;
      // A header without a value reads as '': the stock consume() hands it over as an empty Buffer.
      if (len < 0) {
        (headers ??= {})[name] = '';
        continue;
      }
      need(p, len);
      (headers ??= {})[name] = text(2 * h + 1, p, len);
      p += len;
    }
    out[i] = {
      topic,
      partition,
      offset,
      leaderEpoch: epoch >= 0 ? epoch : undefined,
      key,
      value,
      headers,
      // librdkafka says -1 when the record carries no timestamp.
      timestamp: timestamp >= 0 ? timestamp : undefined,
    };
  }
  if (p !== end) throw new PackedLayoutError(`packed records end at ${end}, ${count} records read to ${p}`);
  return out;
}
