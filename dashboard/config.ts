import { isLoopback } from '../lib/net.ts';
import { type CommonConfig, ConfigError, loadCommonConfig, readInt, readString, readUrl } from '../lib/config.ts';
import { VIEWER_USER } from './auth.ts';

export { isLoopback };

export interface DashboardConfig extends
  Pick<
    CommonConfig,
    'kafkaBrokers' | 'kafkaSecurity' | 'topicPrefix' | 'queueRedisUrl' | 'logLevel' | 'databaseUrl' | 'redisUrl' | 'redisPrefix' | 'clickhouseUrl'
  > {
  /** Address the dashboard listens on. @defaultValue `127.0.0.1` (DASHBOARD_HOST) */
  host: string;
  /** @defaultValue 9400 (DASHBOARD_PORT) */
  port: number;
  /** Where the UI is mounted, for a reverse proxy that serves it under a path. @defaultValue `/` (DASHBOARD_BASE_PATH) */
  basePath: string;
  /**
   * HTTP Basic credentials (DASHBOARD_USER, default `ferry`, and DASHBOARD_PASSWORD). Required
   * when the dashboard listens beyond loopback: it can replay records into Kafka.
   * @defaultValue none (open on loopback)
   */
  credentials?: { username: string; password: string };
  /** The read-only user `viewer`'s password (DASHBOARD_READONLY_PASSWORD; needs DASHBOARD_PASSWORD). @defaultValue none */
  readonlyPassword?: string;
  /** Record fields the console shows as "[redacted]". @defaultValue `customer_id` (CONSOLE_REDACT_FIELDS, comma-separated) */
  redactFields: string[];
  /** The gateway's Prometheus text. @defaultValue `http://127.0.0.1:8080/metrics` (CONSOLE_GATEWAY_METRICS_URL) */
  gatewayMetricsUrl: string;
  /** Each worker process's Prometheus text. @defaultValue `http://127.0.0.1:9464/metrics` (CONSOLE_WORKER_METRICS_URLS, comma-separated) */
  workerMetricsUrls: string[];
  /** Sent as a Bearer token to the gateway's /metrics. @defaultValue none (METRICS_TOKEN) */
  metricsToken?: string;
  /** The workers' consumer groups, for lag. @defaultValue as the worker names them (WORKER_GROUP_ID, WORKER_ANALYTICS_GROUP_ID) */
  groupIds: { 'read-model': string; analytics: string };
  /**
   * Host names the dashboard answers to besides localhost, 127.0.0.1 and [::1]: DASHBOARD_HOST
   * when it is a name or address, and DASHBOARD_ALLOWED_HOSTS (comma-separated), e.g. the name
   * a reverse proxy forwards. @defaultValue DASHBOARD_HOST only
   */
  allowedHosts: string[];
}

/** At least this many characters in DASHBOARD_PASSWORD. */
export const MIN_PASSWORD_LENGTH = 12;

export function loadDashboardConfig(env: Record<string, string | undefined> = process.env): DashboardConfig {
  const { kafkaBrokers, kafkaSecurity, topicPrefix, queueRedisUrl, logLevel, databaseUrl, redisUrl, redisPrefix, clickhouseUrl } = loadCommonConfig(env);
  const host = readString(env, 'DASHBOARD_HOST', '127.0.0.1');
  const basePath = readString(env, 'DASHBOARD_BASE_PATH', '/');
  if (!/^\/[A-Za-z0-9._/-]*$/.test(basePath)) throw new ConfigError('DASHBOARD_BASE_PATH', 'must be a path starting with "/"');
  const password = env.DASHBOARD_PASSWORD ?? '';
  const username = readString(env, 'DASHBOARD_USER', 'ferry');
  if (password !== '' && password.length < MIN_PASSWORD_LENGTH) {
    throw new ConfigError('DASHBOARD_PASSWORD', `must have at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  const readonlyPassword = env.DASHBOARD_READONLY_PASSWORD ?? '';
  if (readonlyPassword !== '' && password === '') {
    throw new ConfigError('DASHBOARD_READONLY_PASSWORD', 'needs DASHBOARD_PASSWORD: without it everyone may change things');
  }
  if (readonlyPassword !== '' && readonlyPassword.length < MIN_PASSWORD_LENGTH) {
    throw new ConfigError('DASHBOARD_READONLY_PASSWORD', `must have at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (readonlyPassword !== '' && username === VIEWER_USER) {
    throw new ConfigError('DASHBOARD_USER', `"${VIEWER_USER}" is the read-only user's name; give the admin another`);
  }
  if (password === '' && !isLoopback(host)) {
    throw new ConfigError(
      'DASHBOARD_PASSWORD',
      `must be set when DASHBOARD_HOST (${host}) is not a loopback address: the dashboard can replay records into Kafka`,
    );
  }
  const groupId = env.WORKER_GROUP_ID || `${topicPrefix}ferry-workers`;
  const list = (name: string, fallback: string) => readString(env, name, fallback).split(',').map((v) => v.trim()).filter(Boolean);
  const workerMetricsUrls = list('CONSOLE_WORKER_METRICS_URLS', 'http://127.0.0.1:9464/metrics');
  workerMetricsUrls.forEach((u) => readUrl({ CONSOLE_WORKER_METRICS_URLS: u }, 'CONSOLE_WORKER_METRICS_URLS', u, ['http:', 'https:']));
  return {
    kafkaBrokers,
    kafkaSecurity,
    topicPrefix,
    queueRedisUrl,
    logLevel,
    databaseUrl,
    redisUrl,
    redisPrefix,
    clickhouseUrl,
    ...(readonlyPassword ? { readonlyPassword } : {}),
    redactFields: list('CONSOLE_REDACT_FIELDS', 'customer_id'),
    gatewayMetricsUrl: readUrl(env, 'CONSOLE_GATEWAY_METRICS_URL', 'http://127.0.0.1:8080/metrics', ['http:', 'https:']),
    workerMetricsUrls,
    ...(env.METRICS_TOKEN ? { metricsToken: env.METRICS_TOKEN } : {}),
    groupIds: { 'read-model': groupId, analytics: env.WORKER_ANALYTICS_GROUP_ID || `${groupId}-analytics` },
    host,
    port: readInt(env, 'DASHBOARD_PORT', 9400, 1, 65535),
    basePath,
    ...(password ? { credentials: { username, password } } : {}),
    allowedHosts: [
      ...(host === '0.0.0.0' || host === '::' ? [] : [host.includes(':') ? `[${host}]` : host]),
      ...readString(env, 'DASHBOARD_ALLOWED_HOSTS', '').split(',').map((h) => h.trim()).filter(Boolean),
    ],
  };
}
