import { availableParallelism } from 'node:os';
import { type CommonConfig, ConfigError, loadCommonConfig, readInt, readString, readUrl } from '../lib/config.ts';
import { type ProducerTuning, readProducerTuning } from '../lib/kafka/producer-config.ts';
import { type ApiKeyEntry, parseApiKeys } from '../lib/api-keys.ts';
import type { JwtOptions } from './auth.ts';
import { type HttpLimits, readHttpLimits } from '../lib/http-limits.ts';
import { readTlsFiles, type TlsFiles } from '../lib/net.ts';

export interface GatewayConfig extends CommonConfig, ProducerTuning {
  /** HTTP port. @defaultValue 8080 (PORT) */
  port: number;
  /** Interface to bind. @defaultValue `0.0.0.0` (HOST) */
  host: string;
  /** Gateway processes sharing the port. @defaultValue available cores (GATEWAY_PROCESSES) */
  processes: number;
  /** Records librdkafka may buffer before produce fails with "queue full". @defaultValue 100000 (KAFKA_QUEUE_MAX_MESSAGES) */
  queueMaxMessages: number;
  /** Records the gateway lets wait for Kafka's ack before answering 503 (backpressure). @defaultValue 50000 (KAFKA_MAX_IN_FLIGHT) */
  maxInFlight: number;
  /** Largest request body. @defaultValue 1048576 (MAX_BODY_BYTES) */
  maxBodyBytes: number;
  /** Most events per batch request. @defaultValue 500 (MAX_BATCH_EVENTS) */
  maxBatchEvents: number;
  /** `NODE_ENV=production`: authentication is mandatory and CORS has no default. */
  production: boolean;
  /** API keys (FERRY_API_KEYS, JSON `[{"id","tenant","sha256","scopes"}]`). @defaultValue none */
  apiKeys: ApiKeyEntry[];
  /** HS256 JWT verification (FERRY_JWT_SECRET, FERRY_JWT_ISSUER, FERRY_JWT_AUDIENCE). @defaultValue none */
  jwt: JwtOptions | undefined;
  /** Sustained requests per second per credential; 0 turns this limit off. @defaultValue 0, 100 in production (RATE_LIMIT_PER_SECOND) */
  rateLimitPerSecond: number;
  /** Requests a credential may send at once. @defaultValue RATE_LIMIT_PER_SECOND (RATE_LIMIT_BURST) */
  rateLimitBurst: number;
  /**
   * Requests per second per client address to what needs no credential (/readyz, /metrics, /docs,
   * unknown routes, refused credentials); 0 turns it off. @defaultValue 0, 20 in production (RATE_LIMIT_ADDRESS_PER_SECOND)
   */
  rateLimitAddressPerSecond: number;
  /**
   * When the limiter's Redis is down: `open` lets requests through unlimited, `closed` answers
   * 503 with Retry-After (what clients retry), so an outage of the cache is never a window
   * without limits. @defaultValue `open`, `closed` in production (RATE_LIMIT_ON_REDIS_DOWN)
   */
  rateLimitOnRedisDown: 'open' | 'closed';
  /** Browser origins allowed by CORS, comma-separated, or `*`. @defaultValue `*`, none in production (CORS_ORIGINS) */
  corsOrigins: string[];
  /** PEM files; HTTPS when both are set. @defaultValue none: HTTP (TLS_CERT_FILE, TLS_KEY_FILE) */
  tls: TlsFiles | undefined;
  /** Cap on `Prefer: wait=N`. @defaultValue 30 (PREFER_WAIT_MAX_SECONDS) */
  maxWaitSeconds: number;
  /** Largest `Prefer: wait` answer; a larger one leaves out the orders it would embed. @defaultValue 1048576 (WAIT_ANSWER_MAX_BYTES) */
  maxWaitAnswerBytes: number;
  /** Largest answer kept for an Idempotency-Key replay; a larger one is kept shortened. @defaultValue 1048576 (IDEMPOTENCY_MAX_ANSWER_BYTES) */
  idempotencyMaxAnswerBytes: number;
  /** How long an answered Idempotency-Key is replayed. @defaultValue 86400 (IDEMPOTENCY_TTL_SECONDS) */
  idempotencyTtlSeconds: number;
  /**
   * Where Idempotency-Key leases and answers live. A Redis that may evict (the cache) can drop a
   * stored answer before its TTL, and a retry would then produce again (with the same event ids);
   * point this at a Redis with `maxmemory-policy noeviction`, such as the queue Redis, to rule that
   * out. @defaultValue REDIS_URL (IDEMPOTENCY_REDIS_URL)
   */
  idempotencyRedisUrl: string;
  /** When set, GET /metrics needs `Authorization: Bearer <token>`; in production /metrics is off without it. @defaultValue none (METRICS_TOKEN) */
  metricsToken: string | undefined;
  /** Slow-sender timeouts and the connection cap (lib/http-limits.ts: HTTP_HEADERS_TIMEOUT_MS 10000, HTTP_REQUEST_TIMEOUT_MS 30000, HTTP_KEEP_ALIVE_TIMEOUT_MS 5000, HTTP_MAX_CONNECTIONS 10000). */
  http: HttpLimits;
}

export function loadGatewayConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  const tuning = readProducerTuning(env);
  const production = env.NODE_ENV === 'production';
  const maxBatchEvents = readInt(env, 'MAX_BATCH_EVENTS', 500, 1, 100_000);
  const queueMaxMessages = readInt(env, 'KAFKA_QUEUE_MAX_MESSAGES', 100_000, 1, 10_000_000);
  const maxInFlight = readInt(env, 'KAFKA_MAX_IN_FLIGHT', Math.min(50_000, queueMaxMessages), 1, 10_000_000);
  if (maxInFlight < maxBatchEvents) {
    throw new ConfigError('KAFKA_MAX_IN_FLIGHT', `must be at least MAX_BATCH_EVENTS (${maxBatchEvents}), or a full batch could never be accepted`);
  }

  const apiKeys = parseApiKeys(env.FERRY_API_KEYS);
  const secret = readString(env, 'FERRY_JWT_SECRET', '');
  if (secret !== '' && secret.length < 32) throw new ConfigError('FERRY_JWT_SECRET', 'must be at least 32 characters (HS256 needs a 256-bit secret)');
  const jwt = secret === '' ? undefined : {
    secret,
    ...(env.FERRY_JWT_ISSUER ? { issuer: env.FERRY_JWT_ISSUER } : {}),
    ...(env.FERRY_JWT_AUDIENCE ? { audience: env.FERRY_JWT_AUDIENCE } : {}),
  };

  const rateLimitPerSecond = readInt(env, 'RATE_LIMIT_PER_SECOND', production ? 100 : 0, 0, 1_000_000);
  const rateLimitAddressPerSecond = readInt(env, 'RATE_LIMIT_ADDRESS_PER_SECOND', production ? 20 : 0, 0, 1_000_000);
  const rateLimitOnRedisDown = readString(env, 'RATE_LIMIT_ON_REDIS_DOWN', production ? 'closed' : 'open');
  if (rateLimitOnRedisDown !== 'open' && rateLimitOnRedisDown !== 'closed') throw new ConfigError('RATE_LIMIT_ON_REDIS_DOWN', 'must be open or closed');
  const rateLimitBurst = readInt(env, 'RATE_LIMIT_BURST', Math.max(1, rateLimitPerSecond), 1, 10_000_000);

  const cors = readString(env, 'CORS_ORIGINS', production ? '' : '*');
  const corsOrigins = cors.split(',').map((o) => o.trim()).filter(Boolean);
  for (const o of corsOrigins) {
    if (o !== '*' && !/^https?:\/\/[^/\s]+$/.test(o)) throw new ConfigError('CORS_ORIGINS', `"${o}" is not an origin like https://shop.example or *`);
  }

  const tls = readTlsFiles(env);

  const metricsToken = readString(env, 'METRICS_TOKEN', '');
  if (metricsToken !== '' && metricsToken.length < 16) throw new ConfigError('METRICS_TOKEN', 'must be at least 16 characters');

  const common = loadCommonConfig(env);
  return {
    ...common,
    port: readInt(env, 'PORT', 8080, 1, 65535),
    host: readString(env, 'HOST', '0.0.0.0'),
    processes: readInt(env, 'GATEWAY_PROCESSES', availableParallelism(), 1, 256),
    ...tuning,
    queueMaxMessages,
    maxInFlight,
    maxBodyBytes: readInt(env, 'MAX_BODY_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    maxBatchEvents,
    production,
    apiKeys,
    jwt,
    rateLimitPerSecond,
    rateLimitBurst,
    rateLimitAddressPerSecond,
    rateLimitOnRedisDown,
    corsOrigins,
    tls,
    maxWaitSeconds: readInt(env, 'PREFER_WAIT_MAX_SECONDS', 30, 1, 300),
    maxWaitAnswerBytes: readInt(env, 'WAIT_ANSWER_MAX_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    idempotencyMaxAnswerBytes: readInt(env, 'IDEMPOTENCY_MAX_ANSWER_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    idempotencyTtlSeconds: readInt(env, 'IDEMPOTENCY_TTL_SECONDS', 86_400, 60, 30 * 86_400),
    idempotencyRedisUrl: readUrl(env, 'IDEMPOTENCY_REDIS_URL', common.redisUrl, ['redis:', 'rediss:']),
    metricsToken: metricsToken || undefined,
    http: readHttpLimits(env),
  };
}

/**
 * The ingest gateway's rule (not the producer service's, which has its own token): in
 * production it never serves without authentication.
 */
export function requireAuthentication(config: GatewayConfig): void {
  if (config.production && config.apiKeys.length === 0 && !config.jwt) {
    throw new ConfigError(
      'FERRY_API_KEYS',
      'NODE_ENV=production and neither FERRY_API_KEYS nor FERRY_JWT_SECRET is set: refusing to serve without authentication',
    );
  }
}
