import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextRate, type Trial, usPerEvent } from './s-sustained.ts';

const trial = (offered: number, held: boolean, accepted = offered): Trial => ({
  offeredEventsPerS: offered,
  acceptedEventsPerS: accepted,
  postgresP99Ms: held ? 100 : 900,
  held,
  why: held ? [] : ['p99'],
  cpuUsPerEvent: {},
});

test('the search climbs while trials hold, halves while none has, then bisects', () => {
  assert.equal(nextRate([trial(10_000, true)]), 15_000);
  assert.equal(nextRate([trial(10_000, false)]), 5_000);
  // Held at 10k (accepting 9.8k), missed at 15k: halfway between what was held and what was not.
  assert.equal(nextRate([trial(10_000, true, 9_800), trial(15_000, false)]), 12_400);
});

test('the search ends when the floor and the ceiling are within 10 %', () => {
  assert.equal(nextRate([trial(10_000, true), trial(10_900, false)]), undefined);
  assert.notEqual(nextRate([trial(10_000, true), trial(11_500, false)]), undefined);
});

test("a trial's CPU per event is each process's cores over the window times its length, over the events", () => {
  // 0.5 cores for 10 s over 20 000 events: 250 µs each.
  assert.deepEqual(usPerEvent({ cores: { kafka: 0.5, 'worker-d': 1 }, seconds: 10 }, 20_000), { kafka: 250, 'worker-d': 500 });
  assert.deepEqual(usPerEvent({ cores: { kafka: 0.5 }, seconds: 10 }, 0), {});
});
