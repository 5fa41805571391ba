import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../lib/config.ts';
import { loadGatewayConfig, requireAuthentication } from './gateway-config.ts';

const KEYS = JSON.stringify([{ id: 'web', tenant: 'acme', sha256: 'a'.repeat(64), scopes: ['write:orders'] }]);
const SECRET = 'x'.repeat(32);

function fails(env: Record<string, string>, variable: string, message: RegExp): void {
  assert.throws(() => requireAuthentication(loadGatewayConfig(env)), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.variable, variable);
    assert.match(err.message, message);
    return true;
  });
}

describe('loadGatewayConfig', () => {
  it('in production: rate limits on per credential and per address, closed when their Redis is down', () => {
    const c = loadGatewayConfig({ NODE_ENV: 'production', FERRY_API_KEYS: KEYS });
    assert.equal(c.rateLimitPerSecond, 100);
    assert.equal(c.rateLimitAddressPerSecond, 20);
    assert.equal(c.rateLimitOnRedisDown, 'closed');
    const dev = loadGatewayConfig({});
    assert.equal(dev.rateLimitAddressPerSecond, 0);
    assert.equal(dev.rateLimitOnRedisDown, 'open');
    assert.equal(
      loadGatewayConfig({ NODE_ENV: 'production', FERRY_API_KEYS: KEYS, RATE_LIMIT_PER_SECOND: '0', RATE_LIMIT_ON_REDIS_DOWN: 'open' }).rateLimitOnRedisDown,
      'open',
    );
    assert.throws(
      () => loadGatewayConfig({ RATE_LIMIT_ON_REDIS_DOWN: 'maybe' }),
      (err: unknown) => err instanceof ConfigError && err.variable === 'RATE_LIMIT_ON_REDIS_DOWN',
    );
  });

  it('defaults: auth off, rate limits off, CORS * in development, HTTP, wait cap 30 s, bounded in-flight', () => {
    const c = loadGatewayConfig({});
    assert.deepEqual(c.apiKeys, []);
    assert.equal(c.jwt, undefined);
    assert.equal(c.rateLimitPerSecond, 0);
    assert.deepEqual(c.corsOrigins, ['*']);
    assert.equal(c.tls, undefined);
    assert.equal(c.maxWaitSeconds, 30);
    assert.equal(c.maxInFlight, 50_000);
    assert.equal(c.queueMaxMessages, 100_000);
    assert.equal(c.idempotencyTtlSeconds, 86_400);
    assert.equal(c.production, false);
    requireAuthentication(c);
  });

  it('refuses to run without authentication when NODE_ENV=production, naming the variables', () => {
    fails({ NODE_ENV: 'production' }, 'FERRY_API_KEYS', /neither FERRY_API_KEYS nor FERRY_JWT_SECRET is set: refusing/);
    requireAuthentication(loadGatewayConfig({ NODE_ENV: 'production', FERRY_API_KEYS: KEYS }));
    const jwt = loadGatewayConfig({ NODE_ENV: 'production', FERRY_JWT_SECRET: SECRET, FERRY_JWT_ISSUER: 'https://id.example' });
    requireAuthentication(jwt);
    assert.deepEqual(jwt.jwt, { secret: SECRET, issuer: 'https://id.example' });
    assert.deepEqual(jwt.corsOrigins, [], 'no CORS default in production');
  });

  it('reads rate limits with burst defaulting to the rate', () => {
    const c = loadGatewayConfig({ RATE_LIMIT_PER_SECOND: '20' });
    assert.equal(c.rateLimitPerSecond, 20);
    assert.equal(c.rateLimitBurst, 20);
    assert.equal(loadGatewayConfig({ RATE_LIMIT_PER_SECOND: '20', RATE_LIMIT_BURST: '100' }).rateLimitBurst, 100);
    fails({ RATE_LIMIT_PER_SECOND: '-1' }, 'RATE_LIMIT_PER_SECOND', /between 0/);
  });

  it('keeps Idempotency-Key answers in the cache Redis unless IDEMPOTENCY_REDIS_URL names another', () => {
    assert.equal(loadGatewayConfig({}).idempotencyRedisUrl, 'redis://127.0.0.1:6379/0');
    assert.equal(loadGatewayConfig({ REDIS_URL: 'redis://cache:6379/1' }).idempotencyRedisUrl, 'redis://cache:6379/1');
    assert.equal(loadGatewayConfig({ IDEMPOTENCY_REDIS_URL: 'redis://127.0.0.1:6380' }).idempotencyRedisUrl, 'redis://127.0.0.1:6380');
    assert.throws(
      () => loadGatewayConfig({ IDEMPOTENCY_REDIS_URL: 'http://127.0.0.1:6380' }),
      (err: unknown) => err instanceof ConfigError && err.variable === 'IDEMPOTENCY_REDIS_URL',
    );
  });

  it('reads CORS origins and refuses things that are not origins', () => {
    assert.deepEqual(loadGatewayConfig({ CORS_ORIGINS: 'https://a.example, http://localhost:3000' }).corsOrigins, [
      'https://a.example',
      'http://localhost:3000',
    ]);
    fails({ CORS_ORIGINS: 'https://a.example/path' }, 'CORS_ORIGINS', /not an origin/);
  });

  it('needs both TLS files, and existing ones', () => {
    fails({ TLS_CERT_FILE: '/etc/hostname' }, 'TLS_KEY_FILE', /both/);
    fails({ TLS_KEY_FILE: '/etc/hostname' }, 'TLS_CERT_FILE', /both/);
    fails({ TLS_CERT_FILE: '/nonexistent.pem', TLS_KEY_FILE: '/etc/hostname' }, 'TLS_CERT_FILE', /no file/);
    assert.deepEqual(loadGatewayConfig({ TLS_CERT_FILE: '/etc/hostname', TLS_KEY_FILE: '/etc/hostname' }).tls, {
      certFile: '/etc/hostname',
      keyFile: '/etc/hostname',
    });
  });

  it('refuses a short JWT secret or metrics token without echoing them, and an in-flight bound below a batch', () => {
    fails({ FERRY_JWT_SECRET: 'short-secret' }, 'FERRY_JWT_SECRET', /^FERRY_JWT_SECRET: must be at least 32 characters/);
    fails({ METRICS_TOKEN: 'short' }, 'METRICS_TOKEN', /at least 16/);
    fails({ KAFKA_MAX_IN_FLIGHT: '10', MAX_BATCH_EVENTS: '500' }, 'KAFKA_MAX_IN_FLIGHT', /at least MAX_BATCH_EVENTS/);
    assert.equal(loadGatewayConfig({ KAFKA_QUEUE_MAX_MESSAGES: '1000' }).maxInFlight, 1000, 'the bound defaults to at most the queue size');
    fails({ FERRY_API_KEYS: '[{"id":"x"}]' }, 'FERRY_API_KEYS', /entry 0/);
  });
});
