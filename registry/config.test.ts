import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../lib/config.ts';
import { loadRegistryConfig } from './config.ts';

describe('loadRegistryConfig', () => {
  it('defaults to loopback on 8091 (8081 is the edge gateway), no topic prefix', () => {
    assert.deepEqual(loadRegistryConfig({}), { topicPrefix: '', logLevel: 'info', host: '127.0.0.1', port: 8091 });
  });

  it('reads REGISTRY_HOST, REGISTRY_PORT and FERRY_TOPIC_PREFIX', () => {
    const c = loadRegistryConfig({ REGISTRY_HOST: '0.0.0.0', REGISTRY_PORT: '18081', FERRY_TOPIC_PREFIX: 'staging.' });
    assert.deepEqual([c.host, c.port, c.topicPrefix], ['0.0.0.0', 18081, 'staging.']);
  });

  it('names a bad port', () => {
    assert.throws(() => loadRegistryConfig({ REGISTRY_PORT: 'http' }), (err: unknown) => err instanceof ConfigError && /REGISTRY_PORT/.test(err.message));
  });
});
