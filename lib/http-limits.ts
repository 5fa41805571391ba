/**
 * Limits for Node HTTP servers (@hono/node-server): Node's defaults let a client hold a
 * connection for 60 s without finishing its headers and 300 s without finishing its body, and
 * accept any number of connections, so a few slow senders (slowloris) can pin a process.
 * Shared by the gateway, the producer service and the dashboard.
 */
import type { Server } from 'node:net';
import { ConfigError, readInt } from './config.ts';

export interface HttpLimits {
  /** Time to receive a request's headers. @defaultValue 10000 (HTTP_HEADERS_TIMEOUT_MS) */
  headersTimeoutMs: number;
  /** Time to receive a whole request, headers and body. @defaultValue 30000 (HTTP_REQUEST_TIMEOUT_MS) */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open. @defaultValue 5000 (HTTP_KEEP_ALIVE_TIMEOUT_MS) */
  keepAliveTimeoutMs: number;
  /** Open connections per process; more are refused at once. @defaultValue 10000 (HTTP_MAX_CONNECTIONS) */
  maxConnections: number;
}

export function readHttpLimits(env: Record<string, string | undefined>): HttpLimits {
  const headersTimeoutMs = readInt(env, 'HTTP_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000);
  const requestTimeoutMs = readInt(env, 'HTTP_REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000);
  // Node refuses a headers timeout longer than the request timeout.
  if (headersTimeoutMs > requestTimeoutMs) throw new ConfigError('HTTP_HEADERS_TIMEOUT_MS', `must not exceed HTTP_REQUEST_TIMEOUT_MS (${requestTimeoutMs})`);
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: readInt(env, 'HTTP_KEEP_ALIVE_TIMEOUT_MS', 5_000, 100, 600_000),
    maxConnections: readInt(env, 'HTTP_MAX_CONNECTIONS', 10_000, 1, 1_000_000),
  };
}

/** Options for http(s).createServer (through @hono/node-server's `serverOptions`). */
export function serverOptions(limits: HttpLimits) {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node checks the two timeouts on this interval (30 s by default), which would let a slow
    // sender overstay a short timeout by that much.
    connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4))),
  };
}

/** Caps open connections: Node closes the ones past `maxConnections` as they arrive. */
export function capConnections<S extends Server>(server: S, limits: HttpLimits): S {
  server.maxConnections = limits.maxConnections;
  return server;
}
