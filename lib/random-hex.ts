/**
 * Random ids as lower-case hex (trace and span ids), never all zeros (W3C trace context
 * forbids those). The bytes come from the platform's CSPRNG a pool at a time: one
 * crypto.getRandomValues call per id costs about 2 µs (the web-crypto call path, not the
 * randomness), twice per gateway request; a pooled id costs about 0.1 µs. Each byte of the pool
 * is used once.
 */

/** Bytes drawn per getRandomValues call (its limit is 65536). */
const POOL_BYTES = 4096;
const pool = new Uint8Array(POOL_BYTES);
let next = POOL_BYTES;

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** `bytes` random bytes (1 to 4096) as 2 × `bytes` hex digits, not all zero. */
export function randomHex(bytes: number): string {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > POOL_BYTES) throw new RangeError(`randomHex takes 1 to ${POOL_BYTES} bytes, not ${bytes}`);
  for (;;) {
    if (next + bytes > POOL_BYTES) {
      crypto.getRandomValues(pool);
      next = 0;
    }
    let out = '';
    let any = 0;
    for (let i = next; i < next + bytes; i++) {
      const b = pool[i]!;
      any |= b;
      out += HEX[b];
    }
    next += bytes;
    if (any !== 0) return out;
  }
}
