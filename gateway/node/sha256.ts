/**
 * SHA-256 as lower-case hex with node:crypto, for the Node gateway's API-key check. Web Crypto's
 * digest (the portable default, lib/api-keys.ts) is a thread-pool job: about 30 µs of CPU per
 * call on these machines, against about 1 µs here, and every request that carries a key is
 * hashed.
 */
import { createHash } from 'node:crypto';

export function sha256HexSync(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
