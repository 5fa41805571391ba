import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../lib/config.ts';
import { isLoopback, loadDashboardConfig } from './config.ts';

const refuses = (env: Record<string, string>, variable: string, reason: RegExp) =>
  assert.throws(() => loadDashboardConfig(env), (err: unknown) => err instanceof ConfigError && err.variable === variable && reason.test(err.message));

describe('loadDashboardConfig', () => {
  it('listens on loopback, port 9400, at /, without credentials by default', () => {
    const c = loadDashboardConfig({});
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 9400);
    assert.equal(c.basePath, '/');
    assert.equal(c.credentials, undefined);
    assert.equal(c.queueRedisUrl, 'redis://127.0.0.1:6380');
    assert.deepEqual(c.allowedHosts, ['127.0.0.1']);
  });

  it('answers to DASHBOARD_HOST and DASHBOARD_ALLOWED_HOSTS', () => {
    assert.deepEqual(loadDashboardConfig({ DASHBOARD_HOST: '::1', DASHBOARD_ALLOWED_HOSTS: 'ops.example, proxy.internal:8443' }).allowedHosts, [
      '[::1]',
      'ops.example',
      'proxy.internal:8443',
    ]);
    assert.deepEqual(loadDashboardConfig({ DASHBOARD_HOST: '0.0.0.0', DASHBOARD_PASSWORD: 'correct horse battery' }).allowedHosts, []);
  });

  it('asks for a password before it listens beyond loopback', () => {
    refuses({ DASHBOARD_HOST: '0.0.0.0' }, 'DASHBOARD_PASSWORD', /must be set when DASHBOARD_HOST \(0\.0\.0\.0\)/);
    refuses({ DASHBOARD_HOST: '10.1.2.3' }, 'DASHBOARD_PASSWORD', /not a loopback address/);
    const c = loadDashboardConfig({ DASHBOARD_HOST: '0.0.0.0', DASHBOARD_PASSWORD: 'correct horse battery' });
    assert.deepEqual(c.credentials, { username: 'ferry', password: 'correct horse battery' });
  });

  it('refuses a short password, and takes a user name', () => {
    refuses({ DASHBOARD_PASSWORD: 'short' }, 'DASHBOARD_PASSWORD', /at least 12 characters/);
    assert.deepEqual(loadDashboardConfig({ DASHBOARD_USER: 'ops', DASHBOARD_PASSWORD: 'twelve chars' }).credentials, {
      username: 'ops',
      password: 'twelve chars',
    });
  });

  it("takes a read-only password for the viewer, only beside the admin's", () => {
    refuses({ DASHBOARD_READONLY_PASSWORD: 'twelve chars' }, 'DASHBOARD_READONLY_PASSWORD', /needs DASHBOARD_PASSWORD/);
    refuses({ DASHBOARD_PASSWORD: 'twelve chars', DASHBOARD_READONLY_PASSWORD: 'short' }, 'DASHBOARD_READONLY_PASSWORD', /at least 12/);
    assert.equal(
      loadDashboardConfig({ DASHBOARD_PASSWORD: 'twelve chars', DASHBOARD_READONLY_PASSWORD: 'look but touch not' }).readonlyPassword,
      'look but touch not',
    );
  });

  it("reads the console's redacted fields, metrics URLs and consumer groups", () => {
    const c = loadDashboardConfig({ FERRY_TOPIC_PREFIX: 'p.' });
    assert.deepEqual(c.redactFields, ['customer_id']);
    assert.equal(c.gatewayMetricsUrl, 'http://127.0.0.1:8080/metrics');
    assert.deepEqual(c.workerMetricsUrls, ['http://127.0.0.1:9464/metrics']);
    assert.deepEqual(c.groupIds, { 'read-model': 'p.ferry-workers', analytics: 'p.ferry-workers-analytics' });
    const d = loadDashboardConfig({ CONSOLE_REDACT_FIELDS: 'customer_id, user_id', CONSOLE_WORKER_METRICS_URLS: 'http://a:1/metrics,http://b:2/metrics' });
    assert.deepEqual(d.redactFields, ['customer_id', 'user_id']);
    assert.deepEqual(d.workerMetricsUrls, ['http://a:1/metrics', 'http://b:2/metrics']);
    refuses({ CONSOLE_WORKER_METRICS_URLS: 'ftp://x' }, 'CONSOLE_WORKER_METRICS_URLS', /must use http/);
  });

  it('checks the port and the base path', () => {
    refuses({ DASHBOARD_PORT: '70000' }, 'DASHBOARD_PORT', /between 1 and 65535/);
    refuses({ DASHBOARD_BASE_PATH: 'queues' }, 'DASHBOARD_BASE_PATH', /starting with "\/"/);
    assert.equal(loadDashboardConfig({ DASHBOARD_BASE_PATH: '/ops/queues' }).basePath, '/ops/queues');
  });
});

describe('isLoopback', () => {
  it('knows loopback addresses from the rest', () => {
    for (const h of ['127.0.0.1', '127.8.9.10', '::1', 'localhost']) assert.equal(isLoopback(h), true, h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com', '127.0.0.1.example.com']) assert.equal(isLoopback(h), false, h);
  });
});
