import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../config-error.ts';
import { describeKafkaSecurity, kafkaSecurityProperties, readKafkaSecurity } from './security.ts';

const dir = mkdtempSync(join(tmpdir(), 'ferry-kafka-security-'));
const caFile = join(dir, 'ca.pem');
const certFile = join(dir, 'client.pem');
const keyFile = join(dir, 'client.key');
for (const f of [caFile, certFile, keyFile]) writeFileSync(f, '-----BEGIN X-----\n');
const SECRET = 's3cret-Pa55word';

const sasl = {
  KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
  KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
  KAFKA_SASL_USERNAME: 'ferry',
  KAFKA_SASL_PASSWORD: SECRET,
};

function assertConfigError(env: Record<string, string>, variable: string, reason?: RegExp): void {
  assert.throws(
    () => readKafkaSecurity(env),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
      assert.equal(err.variable, variable, err.message);
      if (reason) assert.match(err.message, reason);
      assert.ok(!err.message.includes(SECRET), 'a configuration error must not print the password');
      return true;
    },
  );
}

describe('readKafkaSecurity', () => {
  it('is plaintext with no librdkafka properties by default', () => {
    const s = readKafkaSecurity({});
    assert.deepEqual(s, { protocol: 'plaintext' });
    assert.deepEqual(kafkaSecurityProperties(s), {});
    assert.deepEqual(kafkaSecurityProperties(), {});
  });

  it('maps SASL over TLS to librdkafka properties, names case-insensitive', () => {
    const s = readKafkaSecurity({ ...sasl, KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SSL_CA_FILE: caFile });
    assert.deepEqual(kafkaSecurityProperties(s), {
      'security.protocol': 'sasl_ssl',
      'sasl.mechanisms': 'SCRAM-SHA-512',
      'sasl.username': 'ferry',
      'sasl.password': SECRET,
      'ssl.ca.location': caFile,
    });
  });

  it('maps TLS with a client certificate', () => {
    const s = readKafkaSecurity({
      KAFKA_SECURITY_PROTOCOL: 'ssl',
      KAFKA_SSL_CA_FILE: caFile,
      KAFKA_SSL_CERT_FILE: certFile,
      KAFKA_SSL_KEY_FILE: keyFile,
      KAFKA_SSL_KEY_PASSWORD: 'kp',
    });
    assert.deepEqual(kafkaSecurityProperties(s), {
      'security.protocol': 'ssl',
      'ssl.ca.location': caFile,
      'ssl.certificate.location': certFile,
      'ssl.key.location': keyFile,
      'ssl.key.password': 'kp',
    });
  });

  it('trusts the system CAs when no CA file is given', () => {
    const props = kafkaSecurityProperties(readKafkaSecurity({ ...sasl, KAFKA_SASL_MECHANISM: 'PLAIN' }));
    assert.equal(props['ssl.ca.location'], undefined);
    assert.equal(props['sasl.mechanisms'], 'PLAIN');
  });

  it('reads the password from the first line of a file', () => {
    const file = join(dir, 'password');
    writeFileSync(file, `${SECRET}\nignored\n`);
    const { KAFKA_SASL_PASSWORD: _, ...rest } = sasl;
    const s = readKafkaSecurity({ ...rest, KAFKA_SASL_PASSWORD_FILE: file });
    assert.equal(s.sasl?.password, SECRET);
  });

  it('describes the connection without the password', () => {
    const s = readKafkaSecurity({ ...sasl, KAFKA_SSL_CA_FILE: caFile });
    const d = describeKafkaSecurity(s);
    assert.deepEqual(d, { protocol: 'sasl_ssl', mechanism: 'SCRAM-SHA-512', username: 'ferry', ca: caFile, clientCertificate: false });
    assert.ok(!JSON.stringify(d).includes(SECRET));
    assert.deepEqual(describeKafkaSecurity(), { protocol: 'plaintext' });
  });

  it('refuses an unknown protocol or mechanism', () => {
    assertConfigError({ KAFKA_SECURITY_PROTOCOL: 'tls' }, 'KAFKA_SECURITY_PROTOCOL', /plaintext, ssl, sasl_plaintext, sasl_ssl/);
    assertConfigError({ ...sasl, KAFKA_SASL_MECHANISM: 'GSSAPI' }, 'KAFKA_SASL_MECHANISM', /PLAIN, SCRAM-SHA-256, SCRAM-SHA-512/);
  });

  it('requires mechanism, username and password with SASL', () => {
    const { KAFKA_SASL_MECHANISM: _m, ...noMechanism } = sasl;
    assertConfigError(noMechanism, 'KAFKA_SASL_MECHANISM', /required/);
    const { KAFKA_SASL_USERNAME: _u, ...noUser } = sasl;
    assertConfigError(noUser, 'KAFKA_SASL_USERNAME', /required/);
    const { KAFKA_SASL_PASSWORD: _p, ...noPassword } = sasl;
    assertConfigError(noPassword, 'KAFKA_SASL_PASSWORD', /required/);
    assertConfigError({ ...sasl, KAFKA_SASL_PASSWORD_FILE: caFile }, 'KAFKA_SASL_PASSWORD_FILE', /not both/);
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    assertConfigError({ ...noPassword, KAFKA_SASL_PASSWORD_FILE: empty }, 'KAFKA_SASL_PASSWORD_FILE', /no password/);
  });

  it('refuses settings the protocol would ignore', () => {
    assertConfigError({ KAFKA_SASL_PASSWORD: SECRET }, 'KAFKA_SASL_PASSWORD', /only used with .* sasl_plaintext or sasl_ssl \(it is plaintext\)/);
    assertConfigError({ KAFKA_SECURITY_PROTOCOL: 'ssl', KAFKA_SASL_USERNAME: 'ferry' }, 'KAFKA_SASL_USERNAME', /sasl_/);
    assertConfigError({ ...sasl, KAFKA_SECURITY_PROTOCOL: 'sasl_plaintext', KAFKA_SSL_CA_FILE: caFile }, 'KAFKA_SSL_CA_FILE', /ssl or sasl_ssl/);
  });

  it('checks the files at start-up', () => {
    assertConfigError(
      { KAFKA_SECURITY_PROTOCOL: 'ssl', KAFKA_SSL_CA_FILE: join(dir, 'missing.pem') },
      'KAFKA_SSL_CA_FILE',
      /cannot read .*missing\.pem \(ENOENT\)/,
    );
    assertConfigError({ ...sasl, KAFKA_SASL_PASSWORD: '', KAFKA_SASL_PASSWORD_FILE: join(dir, 'nope') }, 'KAFKA_SASL_PASSWORD_FILE', /ENOENT/);
    assertConfigError({ KAFKA_SECURITY_PROTOCOL: 'ssl', KAFKA_SSL_CERT_FILE: certFile }, 'KAFKA_SSL_KEY_FILE', /both/);
    assertConfigError({ KAFKA_SECURITY_PROTOCOL: 'ssl', KAFKA_SSL_KEY_FILE: keyFile }, 'KAFKA_SSL_CERT_FILE', /both/);
    assertConfigError({ KAFKA_SECURITY_PROTOCOL: 'ssl', KAFKA_SSL_KEY_PASSWORD: 'kp' }, 'KAFKA_SSL_KEY_PASSWORD', /KAFKA_SSL_KEY_FILE/);
  });
});
