import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from './config.ts';
import { readHttpLimits, serverOptions } from './http-limits.ts';

describe('readHttpLimits', () => {
  it('has short defaults and a connection cap', () => {
    assert.deepEqual(readHttpLimits({}), { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000, maxConnections: 10_000 });
    assert.equal(serverOptions(readHttpLimits({})).connectionsCheckingInterval, 1_000);
  });

  it('refuses a headers timeout longer than the request timeout', () => {
    assert.throws(
      () => readHttpLimits({ HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '1000' }),
      (err: unknown) => err instanceof ConfigError && err.variable === 'HTTP_HEADERS_TIMEOUT_MS',
    );
  });
});
