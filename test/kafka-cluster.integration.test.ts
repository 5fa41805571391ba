/**
 * The fault suite's Kafka-side core on a three-node cluster of its own (RF 3, min ISR 2):
 * a partition leader SIGKILLed, two of three brokers down, a gateway process SIGKILLed, each
 * under steady load. Every acknowledged event lands exactly once, no phantoms, and no 2xx while
 * fewer than min.insync.replicas brokers run. The whole matrix: `npm run chaos`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DEFAULT_LOAD, runScenario } from '../chaos/run-scenario.ts';
import type { Scenario } from '../chaos/scenario.ts';
import { belowMinIsr } from '../chaos/scenarios/kafka-below-min-isr.ts';
import { gatewayKill } from '../chaos/scenarios/gateway-kill.ts';
import { leaderKill } from '../chaos/scenarios/kafka-leader-kill.ts';
import { KafkaCluster } from '../support/kafka-cluster.ts';
import { isolate, type Isolated } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'ferry-kafka-cluster-'));
// Ports of its own, so a cluster started by `npm run up -- --brokers 3` or `npm run chaos` stays out of it.
const cluster = new KafkaCluster({ dir, port: 29092 });
let iso: Isolated;
const output: string[] = [];

before(async () => {
  await cluster.start();
  iso = await isolate({ KAFKA_BROKERS: cluster.brokers.join(',') });
});

after(async () => {
  await iso?.cleanup().catch(() => {});
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function check(s: Scenario): Promise<void> {
  const row = await runScenario(s, { cluster, iso, load: DEFAULT_LOAD, log: (l) => output.push(l) });
  const why = `${row.problems.join('; ')}\n${output.slice(-30).join('\n')}`;
  assert.ok(row.acknowledged > 0, why);
  assert.equal(row.lost, 0, why);
  assert.equal(row.duplicated, 0, why);
  assert.equal(row.phantom, 0, why);
  assert.equal(row.twoXxBelowMinIsr, 0, why);
  assert.equal(row.verdict, 'PASS', why);
}

test('topics on the cluster have three replicas, all in sync', async () => {
  const leaders = await cluster.leaders(iso.topic('orders'));
  assert.equal(leaders.length, 6);
  for (const p of leaders) assert.deepEqual([...p.isr].sort(), [1, 2, 3]);
});

test('1. SIGKILL of a partition leader under load: nothing acknowledged is lost or doubled', () => check(leaderKill()));

test('3. two of three brokers down: 503 with Retry-After and never 2xx; writes resume when one returns', () => check(belowMinIsr()));

test('5. SIGKILL of a gateway process under load: every 2xx lands, cut-off requests at most once', () => check(gatewayKill()));
