/**
 * Configuration from environment variables, resolved in one place and validated at start-up.
 * A bad value stops the process with one line naming the variable and what is wrong.
 */

import { ConfigError } from './config-error.ts';
import { type KafkaSecurity, readKafkaSecurity } from './kafka/security.ts';

export { ConfigError };

type Env = Record<string, string | undefined>;

export function readString(env: Env, name: string, fallback: string): string {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  return v;
}

export function readInt(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function readUrl(env: Env, name: string, fallback: string, protocols: string[]): string {
  const raw = readString(env, name, fallback);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be a URL like ${fallback}`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}, got ${url.protocol}`);
  }
  return raw;
}

export function readBrokers(env: Env, name: string, fallback: string): string[] {
  const raw = readString(env, name, fallback);
  const brokers = raw.split(',').map((b) => b.trim()).filter(Boolean);
  if (brokers.length === 0) throw new ConfigError(name, 'must list at least one host:port');
  for (const b of brokers) {
    if (!/^[A-Za-z0-9._-]+:\d{1,5}$/.test(b)) throw new ConfigError(name, `"${b}" is not host:port`);
  }
  return brokers;
}

/** Topic and key names may only use Kafka's legal characters. */
export function readName(env: Env, name: string, fallback: string): string {
  const v = readString(env, name, fallback);
  if (!/^[A-Za-z0-9._-]*$/.test(v)) throw new ConfigError(name, 'may only use letters, digits, ".", "_" and "-"');
  return v;
}

export interface CommonConfig {
  /** Kafka bootstrap servers. @defaultValue `127.0.0.1:9092` (KAFKA_BROKERS) */
  kafkaBrokers: string[];
  /** TLS and SASL for every Kafka client. @defaultValue plaintext (KAFKA_SECURITY_PROTOCOL and friends, lib/kafka/security.ts) */
  kafkaSecurity: KafkaSecurity;
  /** Prefix for every Kafka topic and consumer group, so several deployments share a cluster. @defaultValue empty (FERRY_TOPIC_PREFIX) */
  topicPrefix: string;
  /** PostgreSQL. @defaultValue `postgres://postgres@127.0.0.1:5432/ferry` (DATABASE_URL) */
  databaseUrl: string;
  /** The cache Redis (may evict). @defaultValue `redis://127.0.0.1:6379/0` (REDIS_URL) */
  redisUrl: string;
  /** Prefix for every cache key. @defaultValue `ferry:` (REDIS_PREFIX) */
  redisPrefix: string;
  /** ClickHouse HTTP interface; the path names the database. @defaultValue `http://127.0.0.1:8123/ferry` (CLICKHOUSE_URL) */
  clickhouseUrl: string;
  /** Persistent Redis for BullMQ (retries, dead letters). @defaultValue `redis://127.0.0.1:6380` (QUEUE_REDIS_URL) */
  queueRedisUrl: string;
  /** Logging level for pino. @defaultValue `info` (LOG_LEVEL) */
  logLevel: string;
}

export function loadCommonConfig(env: Env = process.env): CommonConfig {
  const logLevel = readString(env, 'LOG_LEVEL', 'info');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', 'must be one of fatal, error, warn, info, debug, trace, silent');
  }
  const redisPrefix = readString(env, 'REDIS_PREFIX', 'ferry:');
  if (!/^[A-Za-z0-9:._-]+$/.test(redisPrefix)) throw new ConfigError('REDIS_PREFIX', 'may only use letters, digits and ":._-"');
  return {
    kafkaBrokers: readBrokers(env, 'KAFKA_BROKERS', '127.0.0.1:9092'),
    kafkaSecurity: readKafkaSecurity(env),
    topicPrefix: readName(env, 'FERRY_TOPIC_PREFIX', ''),
    databaseUrl: readUrl(env, 'DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/ferry', ['postgres:', 'postgresql:']),
    redisUrl: readUrl(env, 'REDIS_URL', 'redis://127.0.0.1:6379/0', ['redis:', 'rediss:']),
    redisPrefix,
    clickhouseUrl: readUrl(env, 'CLICKHOUSE_URL', 'http://127.0.0.1:8123/ferry', ['http:', 'https:']),
    queueRedisUrl: readUrl(env, 'QUEUE_REDIS_URL', 'redis://127.0.0.1:6380', ['redis:', 'rediss:']),
    logLevel,
  };
}

/** The ClickHouse database named by the URL path (default `ferry`). */
export function clickhouseDatabase(url: string): string {
  const db = new URL(url).pathname.replace(/^\//, '') || 'ferry';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(db)) throw new ConfigError('CLICKHOUSE_URL', `database "${db}" must be an identifier`);
  return db;
}

/** Runs `fn`, and on a ConfigError prints its one line and exits 2. */
export function orExit<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ferry: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
