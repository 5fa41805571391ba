import { isLoopback } from '../lib/net.ts';
import { ConfigError, loadCommonConfig, readInt, readString, type CommonConfig } from '../lib/config.ts';

export { isLoopback };

export interface DashboardConfig extends Pick<CommonConfig, 'kafkaBrokers' | 'kafkaSecurity' | 'topicPrefix' | 'queueRedisUrl' | 'logLevel'> {
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
  const { kafkaBrokers, kafkaSecurity, topicPrefix, queueRedisUrl, logLevel } = loadCommonConfig(env);
  const host = readString(env, 'DASHBOARD_HOST', '127.0.0.1');
  const basePath = readString(env, 'DASHBOARD_BASE_PATH', '/');
  if (!/^\/[A-Za-z0-9._/-]*$/.test(basePath)) throw new ConfigError('DASHBOARD_BASE_PATH', 'must be a path starting with "/"');
  const password = env.DASHBOARD_PASSWORD ?? '';
  const username = readString(env, 'DASHBOARD_USER', 'ferry');
  if (password !== '' && password.length < MIN_PASSWORD_LENGTH) {
    throw new ConfigError('DASHBOARD_PASSWORD', `must have at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (password === '' && !isLoopback(host)) {
    throw new ConfigError('DASHBOARD_PASSWORD', `must be set when DASHBOARD_HOST (${host}) is not a loopback address: the dashboard can replay records into Kafka`);
  }
  return {
    kafkaBrokers,
    kafkaSecurity,
    topicPrefix,
    queueRedisUrl,
    logLevel,
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
