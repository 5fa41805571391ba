/**
 * Reading a request body under a size limit, chunked or not. The gateway core calls a
 * `BodyReader`; the default reads the web-standard Request (any runtime), and a runtime entry
 * may pass a cheaper one (node/body.ts reads Node's IncomingMessage directly).
 */
import type { Context } from 'hono';

export type BodyResult =
  | { ok: true; text: string }
  /** Over the limit (by Content-Length or by the bytes that arrived). */
  | { ok: false; reason: 'too-large' }
  /** The connection failed mid-body, or the bytes are not UTF-8. */
  | { ok: false; reason: 'unreadable'; detail: string };

export type BodyReader = (c: Context, maxBytes: number) => Promise<BodyResult>;

export const TOO_LARGE: BodyResult = { ok: false, reason: 'too-large' };

/** A declared Content-Length over the limit, when the body is not chunked. */
export function declaredTooLarge(contentLength: string | null | undefined, transferEncoding: string | null | undefined, maxBytes: number): boolean {
  if (contentLength == null || transferEncoding != null) return false;
  return Number.parseInt(contentLength, 10) > maxBytes;
}

// JSON text is UTF-8 (RFC 8259 8.1): bytes that are not are refused, not silently replaced.
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeUtf8(bytes: Uint8Array): BodyResult {
  try {
    return { ok: true, text: utf8.decode(bytes) };
  } catch {
    return { ok: false, reason: 'unreadable', detail: 'the body is not valid UTF-8' };
  }
}

/** Reads `c.req.raw` (a web Request), stopping as soon as the limit is passed. */
export const readWebBody: BodyReader = async (c, maxBytes) => {
  const req = c.req.raw;
  if (declaredTooLarge(req.headers.get('content-length'), req.headers.get('transfer-encoding'), maxBytes)) return TOO_LARGE;
  if (!req.body) return { ok: true, text: '' };
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        return TOO_LARGE;
      }
      chunks.push(value);
    }
  } catch (err) {
    return { ok: false, reason: 'unreadable', detail: `the body could not be read: ${(err as Error).message}` };
  }
  if (chunks.length === 1) return decodeUtf8(chunks[0]!);
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.byteLength;
  }
  return decodeUtf8(all);
};
