import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../lib/config.ts';
import { loadWorkerConfig } from './worker-config.ts';

describe('loadWorkerConfig: WORKER_GROUPS', () => {
  it('joins both groups by default, and when the variable is empty', () => {
    assert.deepEqual(loadWorkerConfig({}).groups, ['read-model', 'analytics']);
    assert.deepEqual(loadWorkerConfig({ WORKER_GROUPS: ' ' }).groups, ['read-model', 'analytics']);
  });

  it('takes one group, or both in any order, trimmed and without repeats', () => {
    assert.deepEqual(loadWorkerConfig({ WORKER_GROUPS: 'read-model' }).groups, ['read-model']);
    assert.deepEqual(loadWorkerConfig({ WORKER_GROUPS: ' analytics ' }).groups, ['analytics']);
    assert.deepEqual(loadWorkerConfig({ WORKER_GROUPS: 'analytics, read-model,analytics' }).groups, ['analytics', 'read-model']);
  });

  it('refuses a group it does not know, naming the variable', () => {
    for (const raw of ['readmodel', 'read-model,clickhouse', ',']) {
      assert.throws(
        () => loadWorkerConfig({ WORKER_GROUPS: raw }),
        (err: unknown) => err instanceof ConfigError && err.variable === 'WORKER_GROUPS' && err.message.includes('read-model, analytics'),
        raw,
      );
    }
  });
});
