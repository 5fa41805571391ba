import { readFileSync } from 'node:fs';
import { type CommonConfig, ConfigError, loadCommonConfig, readInt, readString } from '../lib/config.ts';
import { type ProducerTuning, readProducerTuning } from '../lib/kafka/producer-config.ts';
import { isLoopback, readTlsFiles, type TlsFiles } from '../lib/net.ts';

/** The token a development producer service accepts when none is configured. Never off loopback. */
export const DEV_PRODUCER_TOKEN = 'ferry-dev-producer-token';

export interface ProducerServiceConfig extends CommonConfig, ProducerTuning {
  /** @defaultValue 8090 (PRODUCER_PORT) */
  port: number;
  /**
   * Interface to bind. The service trusts the tenant header an edge gateway sends, so it is
   * reachable only from this host unless told otherwise. @defaultValue `127.0.0.1` (PRODUCER_HOST)
   */
  host: string;
  /**
   * Bearer token edge gateways present, from PRODUCER_TOKEN_FILE (first line) or PRODUCER_TOKEN;
   * at least 16 characters. @defaultValue the development token, on loopback outside production only
   */
  token: string;
  /** Whether the development token is in use (logged as a warning). */
  devToken: boolean;
  /**
   * PEM files; HTTPS when both are set. Required off loopback: the bearer token and the tenant
   * header the edge gateways send must not cross a network in clear text.
   * @defaultValue none: HTTP, on loopback only (TLS_CERT_FILE, TLS_KEY_FILE)
   */
  tls: TlsFiles | undefined;
}

export function loadProducerServiceConfig(env: Record<string, string | undefined> = process.env): ProducerServiceConfig {
  const host = readString(env, 'PRODUCER_HOST', '127.0.0.1');
  const production = env.NODE_ENV === 'production';
  let token = '';
  if (env.PRODUCER_TOKEN_FILE) {
    try {
      token = readFileSync(env.PRODUCER_TOKEN_FILE, 'utf8').split('\n')[0]!.trim();
    } catch (err) {
      throw new ConfigError('PRODUCER_TOKEN_FILE', `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  } else {
    token = env.PRODUCER_TOKEN ?? '';
  }
  const devToken = token === '' || token === DEV_PRODUCER_TOKEN;
  if (devToken && (production || !isLoopback(host))) {
    throw new ConfigError(
      'PRODUCER_TOKEN',
      production
        ? 'must be set to a secret of at least 16 characters in production'
        : `must be set to a secret when PRODUCER_HOST (${host}) is not a loopback address`,
    );
  }
  if (token === '') token = DEV_PRODUCER_TOKEN;
  if (token.length < 16) throw new ConfigError('PRODUCER_TOKEN', 'must be a secret of at least 16 characters');
  const tls = readTlsFiles(env);
  if (!tls && !isLoopback(host)) {
    throw new ConfigError('TLS_CERT_FILE', `must be set (with TLS_KEY_FILE) when PRODUCER_HOST (${host}) is not a loopback address`);
  }
  return {
    ...loadCommonConfig(env),
    ...readProducerTuning(env),
    port: readInt(env, 'PRODUCER_PORT', 8090, 1, 65535),
    host,
    token,
    devToken,
    tls,
  };
}
