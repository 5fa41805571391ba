import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drainCeiling } from './drain-ceiling.ts';

test('the ceiling is all cores over the services\' CPU per drained event; the worker and the rest do not count', () => {
  // 20 000 events/s with the services at 0.5 cores in all: 25 µs each, so 2 cores allow 80 000.
  const c = drainCeiling({ value: 20_000, cpuCores: { kafka: 0.05, postgresql: 0.25, clickhouse: 0.15, redis: 0.04, 'queue redis': 0.01, 'worker-d': 0.9, machine: 1.9 } }, 2);
  assert.equal(Math.round(c.servicesUsPerEvent * 1000) / 1000, 25);
  assert.equal(Math.round(c.eventsPerS), 80_000);
});

test('a service missing from the sample counts as nothing; no rate or no service CPU gives no ceiling', () => {
  assert.equal(Math.round(drainCeiling({ value: 10_000, cpuCores: { postgresql: 0.5 } }, 2).eventsPerS), 40_000);
  assert.ok(Number.isNaN(drainCeiling({ value: 0, cpuCores: { postgresql: 0.5 } }, 2).eventsPerS));
  assert.ok(Number.isNaN(drainCeiling({ value: 10_000, cpuCores: { 'worker-d': 0.9 } }, 2).eventsPerS));
  assert.ok(Number.isNaN(drainCeiling({ value: Number.NaN, cpuCores: { postgresql: 0.5 } }, 2).eventsPerS));
});
