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
