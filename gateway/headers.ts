/**
 * Reading request headers. The gateway core asks only for `get` of a web Headers; the default
 * reader hands out the web Request's Headers (any runtime), and a runtime entry may pass a
 * cheaper one (node/headers.ts reads Node's raw headers instead of building a web Headers
 * object for every request).
 */
import type { Context } from 'hono';

/**
 * A header's value by name (case-insensitive), repeated fields joined with ", " in the order
 * they came, null when absent: what `Headers.get` answers.
 */
export type RequestHeaders = Pick<Headers, 'get'>;

export type HeadersReader = (c: Context) => RequestHeaders;

/** The web Request's Headers. */
export const readWebHeaders: HeadersReader = (c) => c.req.raw.headers;
