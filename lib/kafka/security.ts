/**
 * How Ferry's Kafka clients authenticate to the brokers and protect the connection: TLS, SASL
 * (PLAIN or SCRAM), or client certificates. A Kafka on other hosts, or a managed one, needs one
 * of these. Read once from the environment, validated at start-up, and turned into librdkafka
 * properties for every client (gateway and producer service, worker consumers, the dashboard's
 * and `npm run dlq`'s replay producer, topic creation).
 *
 * The password is never logged: `describeKafkaSecurity` is what a process may print.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { ConfigError } from '../config-error.ts';

type Env = Record<string, string | undefined>;

export const SECURITY_PROTOCOLS = ['plaintext', 'ssl', 'sasl_plaintext', 'sasl_ssl'] as const;
export type SecurityProtocol = (typeof SECURITY_PROTOCOLS)[number];

export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export interface KafkaSecurity {
  /** @defaultValue `plaintext` (KAFKA_SECURITY_PROTOCOL) */
  protocol: SecurityProtocol;
  /** Present exactly when the protocol is sasl_plaintext or sasl_ssl. */
  sasl?: {
    /** (KAFKA_SASL_MECHANISM; no default: the broker decides which it accepts) */
    mechanism: SaslMechanism;
    /** (KAFKA_SASL_USERNAME) */
    username: string;
    /** (KAFKA_SASL_PASSWORD, or the first line of the file KAFKA_SASL_PASSWORD_FILE names) */
    password: string;
  };
  /** PEM files, only with ssl or sasl_ssl. Without caFile librdkafka trusts the system's CAs. */
  tls?: {
    /** (KAFKA_SSL_CA_FILE) */
    caFile?: string;
    /** Client certificate for brokers that require one (KAFKA_SSL_CERT_FILE, with KAFKA_SSL_KEY_FILE). */
    certFile?: string;
    /** (KAFKA_SSL_KEY_FILE) */
    keyFile?: string;
    /** For an encrypted key (KAFKA_SSL_KEY_PASSWORD). */
    keyPassword?: string;
  };
}

export const PLAINTEXT: KafkaSecurity = Object.freeze({ protocol: 'plaintext' });

function set(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

function cannotRead(name: string, path: string, err: unknown): ConfigError {
  return new ConfigError(name, `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
}

/** The path a variable names, checked readable now (librdkafka reads the file later). */
function readableFile(env: Env, name: string): string | undefined {
  const path = set(env, name);
  if (path === undefined) return undefined;
  try {
    accessSync(path, constants.R_OK);
  } catch (err) {
    throw cannotRead(name, path, err);
  }
  return path;
}

/**
 * Reads KAFKA_SECURITY_PROTOCOL and the variables it needs. Variables that the protocol would
 * ignore are refused rather than ignored: a password set next to `plaintext` is a mistake that
 * would otherwise only show as a connection that never authenticates.
 */
export function readKafkaSecurity(env: Env = process.env): KafkaSecurity {
  const raw = (set(env, 'KAFKA_SECURITY_PROTOCOL') ?? 'plaintext').toLowerCase();
  if (!(SECURITY_PROTOCOLS as readonly string[]).includes(raw)) {
    throw new ConfigError('KAFKA_SECURITY_PROTOCOL', `must be one of ${SECURITY_PROTOCOLS.join(', ')}`);
  }
  const protocol = raw as SecurityProtocol;
  const usesSasl = protocol.startsWith('sasl_');
  const usesTls = protocol === 'ssl' || protocol === 'sasl_ssl';

  const saslNames = ['KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_SASL_PASSWORD_FILE'];
  const tlsNames = ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE', 'KAFKA_SSL_KEY_PASSWORD'];
  if (!usesSasl) {
    const stray = saslNames.find((n) => set(env, n) !== undefined);
    if (stray) throw new ConfigError(stray, `is only used with KAFKA_SECURITY_PROTOCOL sasl_plaintext or sasl_ssl (it is ${protocol})`);
  }
  if (!usesTls) {
    const stray = tlsNames.find((n) => set(env, n) !== undefined);
    if (stray) throw new ConfigError(stray, `is only used with KAFKA_SECURITY_PROTOCOL ssl or sasl_ssl (it is ${protocol})`);
  }

  const security: KafkaSecurity = { protocol };
  if (usesSasl) {
    const mechanism = set(env, 'KAFKA_SASL_MECHANISM')?.toUpperCase();
    if (mechanism === undefined) throw new ConfigError('KAFKA_SASL_MECHANISM', `is required with ${protocol}: one of ${SASL_MECHANISMS.join(', ')}`);
    if (!(SASL_MECHANISMS as readonly string[]).includes(mechanism)) {
      throw new ConfigError('KAFKA_SASL_MECHANISM', `must be one of ${SASL_MECHANISMS.join(', ')}`);
    }
    const username = set(env, 'KAFKA_SASL_USERNAME');
    if (username === undefined) throw new ConfigError('KAFKA_SASL_USERNAME', `is required with ${protocol}`);
    const inline = set(env, 'KAFKA_SASL_PASSWORD');
    const file = set(env, 'KAFKA_SASL_PASSWORD_FILE');
    if (inline !== undefined && file !== undefined) {
      throw new ConfigError('KAFKA_SASL_PASSWORD_FILE', 'set either KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both');
    }
    let password = inline;
    if (file !== undefined) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw cannotRead('KAFKA_SASL_PASSWORD_FILE', file, err);
      }
      // The first line: secrets mounted from files usually end with a newline.
      password = text.split(/\r?\n/)[0];
      if (!password) throw new ConfigError('KAFKA_SASL_PASSWORD_FILE', `${file} holds no password on its first line`);
    }
    if (password === undefined) throw new ConfigError('KAFKA_SASL_PASSWORD', `is required with ${protocol} (or KAFKA_SASL_PASSWORD_FILE)`);
    security.sasl = { mechanism: mechanism as SaslMechanism, username, password };
  }
  if (usesTls) {
    const caFile = readableFile(env, 'KAFKA_SSL_CA_FILE');
    const certFile = readableFile(env, 'KAFKA_SSL_CERT_FILE');
    const keyFile = readableFile(env, 'KAFKA_SSL_KEY_FILE');
    if ((certFile === undefined) !== (keyFile === undefined)) {
      throw new ConfigError(
        certFile === undefined ? 'KAFKA_SSL_CERT_FILE' : 'KAFKA_SSL_KEY_FILE',
        'a client certificate needs both KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE',
      );
    }
    const keyPassword = set(env, 'KAFKA_SSL_KEY_PASSWORD');
    if (keyPassword !== undefined && keyFile === undefined) {
      throw new ConfigError('KAFKA_SSL_KEY_PASSWORD', 'is only used with KAFKA_SSL_KEY_FILE');
    }
    security.tls = { caFile, certFile, keyFile, keyPassword };
  }
  return security;
}

/**
 * librdkafka properties for one client. Merged into every producer, consumer and admin client;
 * with `plaintext` it adds nothing, so the local default stays librdkafka's own.
 * Broker hostnames are verified against their certificates (librdkafka's default, kept).
 */
export function kafkaSecurityProperties(security: KafkaSecurity = PLAINTEXT): Record<string, string> {
  if (security.protocol === 'plaintext') return {};
  const props: Record<string, string> = { 'security.protocol': security.protocol };
  if (security.sasl) {
    props['sasl.mechanisms'] = security.sasl.mechanism;
    props['sasl.username'] = security.sasl.username;
    props['sasl.password'] = security.sasl.password;
  }
  const tls = security.tls;
  if (tls?.caFile) props['ssl.ca.location'] = tls.caFile;
  if (tls?.certFile) props['ssl.certificate.location'] = tls.certFile;
  if (tls?.keyFile) props['ssl.key.location'] = tls.keyFile;
  if (tls?.keyPassword) props['ssl.key.password'] = tls.keyPassword;
  return props;
}

/** What a process may log about its Kafka connection: never a password. */
export function describeKafkaSecurity(security: KafkaSecurity = PLAINTEXT): Record<string, string | boolean> {
  const d: Record<string, string | boolean> = { protocol: security.protocol };
  if (security.sasl) {
    d.mechanism = security.sasl.mechanism;
    d.username = security.sasl.username;
  }
  if (security.tls) {
    d.ca = security.tls.caFile ?? 'system';
    d.clientCertificate = Boolean(security.tls.certFile);
  }
  return d;
}
