import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LegResult } from './bench-result.ts';
import { goals, workerOverStores } from './ratios.ts';

test('goal 1 sets every worker process against Kafka and the stores, leaving the gateway and the host out', () => {
  const us = { 'worker-d': 40, 'analytics-d': 10, kafka: 10, postgresql: 20, clickhouse: 10, redis: 8, 'queue redis': 2, 'gateway-d': 5, machine: 200 };
  assert.equal(workerOverStores(us), 1);
  assert.ok(Number.isNaN(workerOverStores({ 'worker-d': 40 })), 'no store measured: no ratio');
  assert.ok(Number.isNaN(workerOverStores(undefined)));
});

test('goals: a leg not run leaves its goal unmet with the reason; a bound is compared in its unit', () => {
  const u: LegResult = {
    id: 'u-startup',
    title: 'start-up',
    kind: 'startup',
    unit: 'CPU s',
    value: 0.25,
    valid: true,
    invalid: [],
    notes: [],
    cpuCores: {},
    throughputSeries: [],
  };
  const byId = new Map(goals(new Map([['u-startup', u]])).map((g) => [g.id, g]));
  assert.equal(byId.get('4')!.met, true);
  assert.equal(byId.get('4')!.value, 0.25);
  assert.equal(byId.get('1')!.met, null);
  assert.match(byId.get('1')!.why!, /d-drain not run/);
});

const leg = (id: string, value: number, extra: Partial<LegResult> = {}): LegResult => ({
  id,
  title: id,
  kind: 'http',
  unit: 'req/s',
  value,
  valid: true,
  invalid: [],
  notes: [],
  cpuCores: {},
  throughputSeries: [],
  ...extra,
});

const byId = (legs: LegResult[], context = {}) => new Map(goals(new Map(legs.map((l) => [l.id, l])), context).map((r) => [r.id, r]));

test('goal 5 divides the gateway, single events and batches, by the peer', () => {
  const r = byId([leg('g-gateway', 6000), leg('g-peer', 3000), leg('g-gateway-batch', 45_000, { unit: 'events/s' })]);
  assert.equal(r.get('5 (single)')!.value, 2);
  assert.equal(r.get('5 (single)')!.met, true);
  assert.equal(r.get('5 (batch)')!.value, 15);
  assert.equal(r.get('5 (batch)')!.target, 1.5);
  assert.match(r.get('5 (batch)')!.title, /no batch publish/);
});

test('goal 5 is not measured when leg g did not run, was invalid, or the peer was not available', () => {
  assert.equal(byId([]).get('5 (single)')!.why, 'leg g-gateway, g-peer not run');
  const invalid = byId([leg('g-gateway', 6000), leg('g-peer', 3000, { valid: false }), leg('g-gateway-batch', 1)]);
  assert.equal(invalid.get('5 (batch)')!.met, null);
  assert.equal(invalid.get('5 (batch)')!.why, 'leg g-peer invalid');
  const missing = byId([], { peerUnavailable: 'installing it failed: E404' });
  for (const id of ['5 (single)', '5 (batch)']) {
    assert.equal(missing.get(id)!.met, null);
    assert.equal(missing.get(id)!.why, 'the peer was not run: installing it failed: E404');
  }
});
