import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError } from '../lib/config.ts';
import { DEV_PRODUCER_TOKEN, loadProducerServiceConfig } from './config.ts';

const dir = mkdtempSync(join(tmpdir(), 'ferry-producer-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const SECRET = 's'.repeat(32);

function fails(env: Record<string, string>, variable: string, message: RegExp): void {
  assert.throws(() => loadProducerServiceConfig(env), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.variable, variable);
    assert.match(err.message, message);
    return true;
  });
}

describe('loadProducerServiceConfig', () => {
  it('binds loopback with the development token by default, over HTTP', () => {
    const c = loadProducerServiceConfig({});
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 8090);
    assert.equal(c.token, DEV_PRODUCER_TOKEN);
    assert.equal(c.devToken, true);
    assert.equal(c.tls, undefined);
  });

  it('refuses the development token in production and off loopback', () => {
    fails({ NODE_ENV: 'production' }, 'PRODUCER_TOKEN', /production/);
    fails({ NODE_ENV: 'production', PRODUCER_TOKEN: DEV_PRODUCER_TOKEN }, 'PRODUCER_TOKEN', /production/);
    fails({ PRODUCER_HOST: '0.0.0.0' }, 'PRODUCER_TOKEN', /not a loopback address/);
    fails({ PRODUCER_TOKEN: 'short' }, 'PRODUCER_TOKEN', /16 characters/);
  });

  it('reads the token from the first line of PRODUCER_TOKEN_FILE, before PRODUCER_TOKEN', () => {
    const c = loadProducerServiceConfig({
      PRODUCER_TOKEN_FILE: file('token', `  ${SECRET}  \nignored\n`),
      PRODUCER_TOKEN: 'p'.repeat(32),
      NODE_ENV: 'production',
    });
    assert.equal(c.token, SECRET);
    assert.equal(c.devToken, false);
    fails({ PRODUCER_TOKEN_FILE: join(dir, 'missing') }, 'PRODUCER_TOKEN_FILE', /cannot be read \(ENOENT\)/);
  });

  it('needs TLS off loopback: the token and the tenant header must not cross a network in clear text', () => {
    fails({ PRODUCER_HOST: '0.0.0.0', PRODUCER_TOKEN: SECRET }, 'TLS_CERT_FILE', /not a loopback address/);
    const cert = file('cert.pem', 'cert');
    const key = file('key.pem', 'key');
    fails({ PRODUCER_TOKEN: SECRET, TLS_CERT_FILE: cert }, 'TLS_KEY_FILE', /both/);
    fails({ PRODUCER_TOKEN: SECRET, TLS_KEY_FILE: key }, 'TLS_CERT_FILE', /both/);
    fails({ PRODUCER_TOKEN: SECRET, TLS_CERT_FILE: join(dir, 'none.pem'), TLS_KEY_FILE: key }, 'TLS_CERT_FILE', /no file/);
    const c = loadProducerServiceConfig({ PRODUCER_HOST: '0.0.0.0', PRODUCER_TOKEN: SECRET, TLS_CERT_FILE: cert, TLS_KEY_FILE: key });
    assert.deepEqual(c.tls, { certFile: cert, keyFile: key });
    assert.equal(loadProducerServiceConfig({ PRODUCER_HOST: '::1', PRODUCER_TOKEN: SECRET }).tls, undefined, 'loopback may stay HTTP');
  });
});
