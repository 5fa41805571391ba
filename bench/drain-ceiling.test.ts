import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drainCeiling } from './drain-ceiling.ts';

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
