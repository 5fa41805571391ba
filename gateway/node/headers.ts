/**
 * The Node headers reader: answers from the raw header lines of the IncomingMessage that
 * @hono/node-server passes as `c.env.incoming`, as `Headers.get` would. Going through the web
 * Request instead makes the server build an undici Headers object (every name and value
 * converted and validated) for every request, which the single-event CPU profile shows at a few
 * percent of the gateway's CPU.
 */
import type { IncomingMessage } from 'node:http';
import { type HeadersReader, readWebHeaders, type RequestHeaders } from '../headers.ts';

export const readNodeHeaders: HeadersReader = (c) => {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  // Not served by @hono/node-server (tests call app.request()): the portable way.
  if (!incoming) return readWebHeaders(c);
  return new RawHeaders(incoming.rawHeaders);
};

/** `Headers.get` over Node's raw header lines (name, value, name, value, ...). */
export class RawHeaders implements RequestHeaders {
  constructor(readonly raw: readonly string[]) {}

  get(name: string): string | null {
    const wanted = name.toLowerCase();
    let value: string | null = null;
    for (let i = 0; i + 1 < this.raw.length; i += 2) {
      const key = this.raw[i]!;
      if (key.length !== wanted.length || key.toLowerCase() !== wanted) continue;
      // Like the web Headers: repeated fields are one value joined with ", " (Node's own
      // `headers` keeps only the first Content-Type or Authorization, which would accept a
      // request the web Headers refuses).
      const v = trimWhitespace(this.raw[i + 1]!);
      value = value === null ? v : `${value}, ${v}`;
    }
    return value;
  }
}

const isWhitespace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** The web Headers' value normalization; Node's parser has usually trimmed the value already. */
function trimWhitespace(v: string): string {
  let start = 0;
  let end = v.length;
  while (start < end && isWhitespace(v.charCodeAt(start))) start++;
  while (end > start && isWhitespace(v.charCodeAt(end - 1))) end--;
  return start === 0 && end === v.length ? v : v.slice(start, end);
}
