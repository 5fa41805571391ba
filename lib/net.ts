import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { ConfigError, readString } from './config.ts';

/** A server's certificate and key, as PEM files. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/** TLS_CERT_FILE and TLS_KEY_FILE: both or neither, and both present; undefined serves plain HTTP. */
export function readTlsFiles(env: Record<string, string | undefined>): TlsFiles | undefined {
  const certFile = readString(env, 'TLS_CERT_FILE', '');
  const keyFile = readString(env, 'TLS_KEY_FILE', '');
  if ((certFile === '') !== (keyFile === '')) {
    throw new ConfigError(certFile ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE', 'set both TLS_CERT_FILE and TLS_KEY_FILE, or neither');
  }
  if (certFile && !existsSync(certFile)) throw new ConfigError('TLS_CERT_FILE', `no file ${certFile}`);
  if (keyFile && !existsSync(keyFile)) throw new ConfigError('TLS_KEY_FILE', `no file ${keyFile}`);
  return certFile ? { certFile, keyFile } : undefined;
}

/** Whether a listen address is reachable only from this host. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}
