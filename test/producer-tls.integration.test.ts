/**
 * The producer service process: HTTPS with TLS_CERT_FILE/TLS_KEY_FILE (edge gateways reach it
 * over https), and no start off loopback without TLS.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freePort, isolate, type Isolated, selfSignedCert, startProcess, waitFor } from './helpers.ts';

const TOKEN = 'producer-tls-token-0123456789';
let iso: Isolated;
let dir: string;

before(async () => {
  iso = await isolate();
  dir = mkdtempSync(join(tmpdir(), 'ferry-producer-tls-'));
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await iso?.cleanup();
});

test('serves HTTPS with TLS_CERT_FILE and TLS_KEY_FILE (the token still required), and no plain HTTP on that port', async () => {
  const { cert, key } = selfSignedCert(dir);
  const ca = readFileSync(cert);
  const port = await freePort();
  const proc = startProcess('producer/main.ts', { ...iso.env, PRODUCER_PORT: String(port), PRODUCER_TOKEN: TOKEN, TLS_CERT_FILE: cert, TLS_KEY_FILE: key });
  try {
    const https = (method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port, path, method, ca, headers }, (res) => {
          let text = '';
          res.on('data', (b: Buffer) => (text += b.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        });
        req.on('error', reject);
        req.end(body);
      });
    await waitFor(async () => (await https('GET', '/readyz').catch(() => ({ status: 0 }))).status === 200, {
      what: `producer ready\n${proc.output()}`,
      timeoutMs: 60_000,
    });
    assert.equal((await https('POST', '/v1/records', '{"records":[]}', { 'content-type': 'application/json' })).status, 401, 'the token is still required');
    await assert.rejects(fetch(`http://127.0.0.1:${port}/readyz`), 'no plain HTTP on the TLS port');
  } finally {
    assert.equal(await proc.stop(), 0);
  }
});

test('refuses to start off loopback without TLS: one line, exit 2', async () => {
  const proc = startProcess('producer/main.ts', { ...iso.env, PRODUCER_PORT: String(await freePort()), PRODUCER_HOST: '0.0.0.0', PRODUCER_TOKEN: TOKEN });
  assert.equal(await proc.exited, 2);
  assert.match(
    proc.output().trim(),
    /^ferry: invalid configuration: TLS_CERT_FILE: must be set \(with TLS_KEY_FILE\) when PRODUCER_HOST \(0\.0\.0\.0\) is not a loopback address$/,
  );
});
