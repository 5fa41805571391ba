import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drainCeiling, sustainedCeiling } from './drain-ceiling.ts';

test("the ceiling is all cores over the services' CPU per drained event; the worker and the rest do not count", () => {
  // The services at 25 µs per event in all: 2 cores allow 80 000 events/s.
  const c = drainCeiling({ kafka: 2.5, postgresql: 12.5, clickhouse: 7.5, redis: 2, 'queue redis': 0.5, 'worker-d': 45, 'load generator': 5 }, 2);
  assert.equal(c.servicesUsPerEvent, 25);
  assert.equal(Math.round(c.eventsPerS), 80_000);
});

test('a service missing from the sample counts as nothing; no service CPU gives no ceiling', () => {
  assert.equal(Math.round(drainCeiling({ postgresql: 50 }, 2).eventsPerS), 40_000);
  assert.ok(Number.isNaN(drainCeiling({ 'worker-d': 20 }, 2).eventsPerS));
  assert.ok(Number.isNaN(drainCeiling(undefined, 2).eventsPerS));
  assert.ok(Number.isNaN(drainCeiling({ postgresql: Number.NaN }, 2).eventsPerS));
});

test("the sustained ceiling also counts the load generator's CPU, never the gateway's or the worker's", () => {
  // 25 µs of services and 15 of load generator per event: 2 cores allow 50 000 events/s.
  const cpu = { kafka: 2.5, postgresql: 12.5, clickhouse: 7.5, redis: 2, 'queue redis': 0.5, 'load generator': 15, 'gateway-d': 30, 'worker-d': 45 };
  const c = sustainedCeiling(cpu, 2);
  assert.equal(c.servicesUsPerEvent, 40);
  assert.equal(Math.round(c.eventsPerS), 50_000);
  assert.ok(Number.isNaN(sustainedCeiling({ 'gateway-d': 30 }, 2).eventsPerS));
});
