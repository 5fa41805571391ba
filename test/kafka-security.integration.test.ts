/**
 * Ferry's Kafka clients against the local broker's secured listeners (scripts/services.sh makes
 * a CA, certificates and a SASL password per machine and writes where they are to
 * ~/.ferry-dev/kafka/client.json): topic creation over SASL PLAIN, the gateway over TLS with a
 * client certificate, the worker over SASL SCRAM-SHA-512, each with TLS to a broker whose
 * certificate is checked against the local CA. Secrets never appear in any process output.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { NODE_FLAGS } from '../lib/node-flags.ts';
import { deleteTopics, topicNames } from '../lib/kafka/topics.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { freePort, isolate, type Isolated, pool, postJson, type Proc, startGateway, startProcess, startWorker, waitFor } from './helpers.ts';

interface SecuredBroker {
  saslSslBrokers: string;
  sslBrokers: string;
  username: string;
  passwordFile: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

const clientFile = join(process.env.FERRY_DEV_DIR ?? join(homedir(), '.ferry-dev'), 'kafka', 'client.json');
let broker: SecuredBroker;
let password: string;
let iso: Isolated;
let prefix: string;
const procs: Proc[] = [];

const saslScram = () => ({
  KAFKA_BROKERS: broker.saslSslBrokers,
  KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
  KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
  KAFKA_SASL_USERNAME: broker.username,
  KAFKA_SASL_PASSWORD_FILE: broker.passwordFile,
  KAFKA_SSL_CA_FILE: broker.caFile,
});
const saslPlain = () => ({
  KAFKA_BROKERS: broker.saslSslBrokers,
  KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
  KAFKA_SASL_MECHANISM: 'PLAIN',
  KAFKA_SASL_USERNAME: broker.username,
  KAFKA_SASL_PASSWORD: password,
  KAFKA_SSL_CA_FILE: broker.caFile,
});
const mutualTls = () => ({
  KAFKA_BROKERS: broker.sslBrokers,
  KAFKA_SECURITY_PROTOCOL: 'ssl',
  KAFKA_SSL_CA_FILE: broker.caFile,
  KAFKA_SSL_CERT_FILE: broker.certFile,
  KAFKA_SSL_KEY_FILE: broker.keyFile,
});

before(async () => {
  broker = JSON.parse(readFileSync(clientFile, 'utf8')) as SecuredBroker;
  password = readFileSync(broker.passwordFile, 'utf8').trim();
  assert.ok(password.length >= 16, `a SASL password in ${broker.passwordFile}`);
  iso = await isolate();
  // Topics of their own, created below through a secured listener rather than by isolate().
  prefix = `${iso.id}.sec.`;
});

after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  if (iso) {
    await deleteTopics([iso.env.KAFKA_BROKERS!], topicNames(prefix, loadRegistry().topics.keys()));
    await iso.cleanup();
  }
});

function assertNoSecret(output: string, what: string): void {
  assert.ok(!output.includes(password), `${what} printed the SASL password`);
}

test('topics, gateway and worker work over SASL PLAIN, TLS client certificates and SASL SCRAM, without printing a secret', async () => {
  const migrate = spawnSync(process.execPath, [...NODE_FLAGS, '--import', 'tsx', 'cli/migrate.ts'], {
    cwd: new URL('../', import.meta.url).pathname,
    env: { ...process.env, ...iso.env, FERRY_TOPIC_PREFIX: prefix, LOG_LEVEL: 'debug', ...saslPlain() },
    encoding: 'utf8',
    timeout: 120_000,
  });
  const migrateOutput = `${migrate.stdout}${migrate.stderr}`;
  assert.equal(migrate.status, 0, migrateOutput);
  assert.match(migrateOutput, new RegExp(`topics created: \\[${prefix.replace(/\./g, '\\.')}orders, ${prefix.replace(/\./g, '\\.')}page_views\\]`));
  assertNoSecret(migrateOutput, 'migrate');

  const gateway = await startGateway({ ...iso.env, FERRY_TOPIC_PREFIX: prefix, LOG_LEVEL: 'debug', ...mutualTls() });
  procs.push(gateway.proc);
  const worker = startWorker({ ...iso.env, FERRY_TOPIC_PREFIX: prefix, LOG_LEVEL: 'debug', ...saslScram() });
  procs.push(worker);

  const orders = Array.from({ length: 40 }, (_, i) => ({
    order_id: `sec-${i}`,
    customer_id: 'c-1',
    status: 'created',
    amount_cents: 100 + i,
    currency: 'EUR',
    items: [{ sku: 'SKU-1', quantity: 1, price_cents: 100 + i }],
    occurred_at: '2026-11-25T10:00:00Z',
  }));
  const answers = await pool(orders, 8, (o) => postJson(`${gateway.url}/v1/events/orders`, o));
  for (const a of answers) assert.equal(a.status, 202, JSON.stringify(a.json));
  const batch = await postJson(
    `${gateway.url}/v1/events/page_views`,
    Array.from({ length: 25 }, (_, i) => ({ user_id: `u-${i}`, url: 'https://shop.example/', referrer: null, occurred_at: '2026-11-25T10:00:00Z' })),
  );
  assert.equal(batch.status, 202, JSON.stringify(batch.json));

  // Applied by a worker that could only have read them over SASL_SSL.
  await waitFor(async () => {
    const [row] = await iso.sql<{ n: string }[]>`SELECT count(*) AS n FROM order_history`;
    return Number(row!.n) === orders.length;
  }, { what: 'every order in PostgreSQL', timeoutMs: 90_000 });
  const [distinct] = await iso.sql<{ n: string }[]>`SELECT count(DISTINCT order_id) AS n FROM orders`;
  assert.equal(Number(distinct!.n), orders.length);
  await waitFor(async () => {
    const rs = await iso.clickhouse.query({ query: 'SELECT topic, count() AS n FROM events FINAL GROUP BY topic ORDER BY topic', format: 'JSONEachRow' });
    const rows = (await rs.json()) as { topic: string; n: string }[];
    return rows.length === 2 && Number(rows[0]!.n) === orders.length && Number(rows[1]!.n) === 25 ? rows : undefined;
  }, { what: 'every event once in ClickHouse', timeoutMs: 90_000 });

  // Each process says how it connects, and none printed a secret (debug logging on).
  assert.match(gateway.proc.output(), /"kafka":\{"protocol":"ssl","ca":"[^"]+","clientCertificate":true\}/);
  assert.match(worker.output(), /"kafka":\{"protocol":"sasl_ssl","mechanism":"SCRAM-SHA-512","username":"ferry"/);
  assertNoSecret(gateway.proc.output(), 'the gateway');
  assertNoSecret(worker.output(), 'the worker');
});

test('a wrong password or a missing client certificate stops the gateway with the reason, and no password is printed', async () => {
  const wrong = `wrong-${password.slice(0, 4)}-not-the-password`;
  const { KAFKA_SSL_CERT_FILE: _c, KAFKA_SSL_KEY_FILE: _k, ...noCertificate } = mutualTls();
  const refused = async (env: Record<string, string>) => {
    const gateway = startProcess('gateway/main.ts', {
      ...iso.env,
      FERRY_TOPIC_PREFIX: prefix,
      GATEWAY_PROCESSES: '1',
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      ...env,
    });
    procs.push(gateway);
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([gateway.exited, new Promise<string>((r) => (timer = setTimeout(() => r('still running'), 90_000)))]);
    clearTimeout(timer);
    assert.equal(code, 1, `the gateway must give up with exit 1\n${gateway.output()}`);
    return gateway.output();
  };
  // A worker keeps trying (a member waits for its brokers), saying why in its own JSON lines.
  const worker = startWorker({ ...iso.env, FERRY_TOPIC_PREFIX: prefix, ...saslScram(), KAFKA_SASL_PASSWORD_FILE: '', KAFKA_SASL_PASSWORD: wrong });
  procs.push(worker);
  // Both gateways at once: each waits out the connect timeout.
  const [badPassword, noClientCertificate] = await Promise.all([
    refused({ ...saslScram(), KAFKA_SASL_PASSWORD_FILE: '', KAFKA_SASL_PASSWORD: wrong }),
    refused(noCertificate),
  ]);
  await waitFor(async () => /\{"level":50,[^\n]*"kafka":\{"fac":"FAIL"[^\n]*SASL authentication error/.test(worker.output()), {
    what: `the worker's authentication error\n${worker.output()}`,
    timeoutMs: 10_000,
  });
  await worker.stop();
  assert.ok(!worker.output().includes(wrong), 'the worker printed the password it was given');
  assert.match(badPassword, /gateway cannot start: Kafka refused or did not answer/);
  assert.match(badPassword, /SASL authentication error: Authentication failed .* SCRAM-SHA-512/);
  assert.ok(!badPassword.includes(wrong), 'the gateway printed the password it was given');
  assert.match(noClientCertificate, /gateway cannot start: Kafka refused or did not answer/);
  assert.match(noClientCertificate, /SSL routines::.*bad certificate/);
});
