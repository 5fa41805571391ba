/**
 * What an edge gateway and the producer service (producer/) exchange over HTTP: records
 * already validated and Avro-encoded, and one delivery per record. Dependency-free, so the
 * Deno gateway loads it.
 */

export interface WireRecord {
  topic: string;
  key: string;
  value_base64: string;
  /** Kafka record headers (like `ferry-tenant`). */
  headers?: Record<string, string>;
}

export type WireDelivery = { ok: true; partition: number; offset: string } | { ok: false; error: string; retriable: boolean };

export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
