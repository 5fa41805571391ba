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

describe('loadWorkerConfig: batch sizes per group', () => {
  it('gives analytics larger batches than the read model by default, each group its own variables', () => {
    const d = loadWorkerConfig({});
    assert.deepEqual([d.batchSize, d.combinedBatchSize, d.analyticsBatchSize, d.analyticsCombinedBatchSize], [500, 1000, 2000, 10_000]);
    const set = loadWorkerConfig({ WORKER_BATCH_SIZE: '100', WORKER_ANALYTICS_BATCH_SIZE: '3000', WORKER_ANALYTICS_COMBINED_BATCH_SIZE: '0' });
    assert.deepEqual([set.batchSize, set.combinedBatchSize, set.analyticsBatchSize, set.analyticsCombinedBatchSize], [100, 1000, 3000, 0]);
  });

  it('refuses a batch size out of range, naming the variable', () => {
    assert.throws(
      () => loadWorkerConfig({ WORKER_ANALYTICS_BATCH_SIZE: '0' }),
      (err: unknown) => err instanceof ConfigError && err.variable === 'WORKER_ANALYTICS_BATCH_SIZE',
    );
    assert.throws(
      () => loadWorkerConfig({ WORKER_ANALYTICS_COMBINED_BATCH_SIZE: 'many' }),
      (err: unknown) => err instanceof ConfigError && err.variable === 'WORKER_ANALYTICS_COMBINED_BATCH_SIZE',
    );
  });
});

describe('loadWorkerConfig: WORKER_CONSUME_PACKED', () => {
  it('is on unless set to false, and refuses anything but true or false', () => {
    assert.equal(loadWorkerConfig({}).consumePacked, true);
    assert.equal(loadWorkerConfig({ WORKER_CONSUME_PACKED: 'true' }).consumePacked, true);
    assert.equal(loadWorkerConfig({ WORKER_CONSUME_PACKED: 'false' }).consumePacked, false);
    assert.throws(() => loadWorkerConfig({ WORKER_CONSUME_PACKED: 'no' }), /WORKER_CONSUME_PACKED.*true or false/);
  });
});

describe('loadWorkerConfig: WORKER_READ_MODEL_LINGER_MS', () => {
  it('is 5 ms unless set, 0 turns it off, and it is bounded', () => {
    assert.equal(loadWorkerConfig({}).readModelLingerMs, 5);
    assert.equal(loadWorkerConfig({ WORKER_READ_MODEL_LINGER_MS: '0' }).readModelLingerMs, 0);
    assert.throws(() => loadWorkerConfig({ WORKER_READ_MODEL_LINGER_MS: '5000' }), /WORKER_READ_MODEL_LINGER_MS/);
  });
});
