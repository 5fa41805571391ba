/**
 * Idempotency-Key (draft-ietf-httpapi-idempotency-key-header) for POST /v1/events/{topic}.
 * The app sees only IdempotencyStore; the Node entry injects the Redis one
 * (stores/redis-idempotency-store.ts) so a retry that lands on another gateway host still finds the
 * first answer.
 *
 * A key is scoped by tenant and credential: two callers that happen to choose the same key never
 * see each other's answer, lease or 422. The first request takes a lease on it; a request with the same key
 * meanwhile gets 409, one with a different body 422. When the first request ends with a 2xx its
 * response (status and body) is kept for the TTL and replayed; otherwise the lease is released
 * and a retry runs afresh, which is safe because nothing was produced.
 */
import { sha256Hex } from '../lib/api-keys.ts';
import type { RequestHeaders } from './headers.ts';

export interface StoredResponse {
  status: number;
  body: string;
  headers: Record<string, string>;
}

export type BeginResult =
  | { state: 'acquired'; lease: string }
  | { state: 'in-flight' }
  | { state: 'mismatch' }
  | { state: 'done'; response: StoredResponse };

/** Whose key it is: the tenant and the credential's id (Credential.id). */
export interface IdempotencyOwner {
  tenant: string;
  credential: string;
}

export interface IdempotencyStore {
  /**
   * Takes the lease for (owner, key) when nobody holds it, else says why not. The lease
   * expires after `leaseMs` (a gateway that died mid-request does not block the key forever).
   */
  begin(owner: IdempotencyOwner, key: string, fingerprint: string, leaseMs: number): Promise<BeginResult>;
  /** Keeps the response for `ttlMs` if `lease` still holds the key. */
  complete(owner: IdempotencyOwner, key: string, lease: string, response: StoredResponse, ttlMs: number): Promise<void>;
  /** Gives the key up (nothing was produced) if `lease` still holds it. */
  release(owner: IdempotencyOwner, key: string, lease: string): Promise<void>;
}

/** Response headers replayed with a stored response. */
export const REPLAYED_HEADERS = ['content-type', 'preference-applied'];

/** Visible ASCII, 1-255 characters: what the draft's examples use, and bounded for storage. */
const KEY = /^[\x21-\x7e]{1,255}$/;

/** Reads the Idempotency-Key header: undefined when absent, null when malformed. */
export function readIdempotencyKey(headers: RequestHeaders): string | undefined | null {
  const raw = headers.get('idempotency-key');
  if (raw === null) return undefined;
  // The draft defines it as a Structured Field string ("..."); bare tokens are accepted too.
  const value = raw.trim().replace(/^"(.*)"$/, '$1');
  return KEY.test(value) ? value : null;
}

/** What makes two requests "the same": topic, media type and exact body bytes. */
export function fingerprint(topic: string, mediaType: string, body: string): Promise<string> {
  return sha256Hex(`${topic}\n${mediaType}\n${body}`);
}

/**
 * Event ids for a request with an Idempotency-Key: derived from tenant, credential, key, request
 * fingerprint and position (the credential too, or a second caller of the tenant sending the same
 * key and body would get the same ids, and the sinks would drop its events as duplicates), so that if a retry ever produces again (a gateway died between
 * Kafka's ack and storing the answer, and the lease ran out) the duplicates carry the same
 * event ids and every sink, which deduplicates by event id, applies them once. The fingerprint
 * is part of it so a key reused for a different body after the TTL never collides with old
 * events. UUIDv8 (RFC 9562 "custom") from SHA-256.
 */
export async function derivedEventIds(owner: IdempotencyOwner, key: string, requestFingerprint: string, count: number): Promise<string[]> {
  const seed = await sha256Hex(`${owner.tenant}\n${owner.credential}\n${key}\n${requestFingerprint}`);
  return Promise.all(Array.from({ length: count }, async (_, i) => uuidV8(await sha256Hex(`${seed}\n${i}`))));
}

function uuidV8(hex: string): string {
  const h = hex.slice(0, 32).split('');
  h[12] = '8';
  h[16] = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  const s = h.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20, 32)}`;
}
