import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Histogram, percentile, rateBetween, round, summarize } from './stats.ts';

/** Above 2 ms the histogram answers with its bucket's upper edge: within 0.1 %, never below. */
function near(actual: number, expected: number): void {
  assert.ok(actual >= expected && actual <= expected * 1.001, `${actual} is ${expected} within 0.1 %`);
}

test('percentile is nearest-rank: an observed value, p0 the minimum, p100 the maximum', () => {
  const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.equal(percentile(sorted, 0), 1);
  assert.equal(percentile(sorted, 50), 5);
  assert.equal(percentile(sorted, 90), 9);
  assert.equal(percentile(sorted, 91), 10);
  assert.equal(percentile(sorted, 99), 10);
  assert.equal(percentile(sorted, 100), 10);
  assert.equal(percentile([42], 99.9), 42);
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.throws(() => percentile(sorted, 101), RangeError);
  assert.throws(() => percentile(sorted, Number.NaN), RangeError);
});

test('p99.9 of 1000 samples is the 999th, not the maximum', () => {
  const values = Array.from({ length: 1000 }, (_, i) => i + 1);
  assert.equal(percentile(values, 99.9), 999);
  assert.equal(percentile(values, 99.99), 1000);
});

test('summarize sorts a copy and reports the usual percentiles', () => {
  const input = [5, 1, 4, 2, 3];
  const s = summarize(input);
  assert.deepEqual(input, [5, 1, 4, 2, 3]);
  assert.deepEqual(s, { count: 5, min: 1, mean: 3, p50: 3, p90: 5, p99: 5, p999: 5, max: 5 });
  assert.equal(summarize([]).count, 0);
  assert.ok(Number.isNaN(summarize([]).p50));
});

test('the histogram agrees with exact percentiles to within 0.1 %, and never reports below the truth', () => {
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  // Log-normal-ish latencies from 0.05 ms to a few seconds.
  const values = Array.from({ length: 20_000 }, () => Math.exp(random() * 11 - 3));
  const h = new Histogram();
  for (const v of values) h.record(v);
  const sorted = Float64Array.from(values).sort();
  for (const p of [1, 25, 50, 90, 99, 99.9, 99.99, 100]) {
    const exact = percentile(sorted, p);
    const approx = h.percentile(p);
    assert.ok(approx >= exact - 0.0005, `p${p}: ${approx} >= ${exact}`);
    assert.ok(approx <= exact * 1.001 + 0.001, `p${p}: ${approx} within 0.1% of ${exact}`);
  }
  assert.equal(h.count, values.length);
  assert.equal(h.summary().max, Math.round(Math.max(...values) * 1000) / 1000);
});

test('the histogram is exact to the microsecond below 2 ms', () => {
  const h = new Histogram();
  for (const v of [0.001, 0.5, 1.234, 2.047]) h.record(v);
  assert.equal(h.percentile(25), 0.001);
  assert.equal(h.percentile(50), 0.5);
  assert.equal(h.percentile(75), 1.234);
  assert.equal(h.percentile(100), 2.047);
});

test('coordinated-omission correction adds the requests a stall held back', () => {
  // One request per 10 ms was intended; one answer took 50 ms: the four requests that should
  // have gone out meanwhile would have waited 40, 30, 20 and 10 ms.
  const h = new Histogram();
  for (let i = 0; i < 95; i++) h.recordCorrected(1, 10);
  h.recordCorrected(50, 10);
  assert.equal(h.count, 100);
  assert.equal(h.percentile(95), 1);
  near(h.percentile(96), 10);
  near(h.percentile(99), 40);
  assert.equal(h.percentile(100), 50);
  // Without the stall nothing is added.
  const calm = new Histogram();
  calm.recordCorrected(9.9, 10);
  assert.equal(calm.count, 1);
});

test('histograms merge', () => {
  const a = new Histogram();
  const b = new Histogram();
  a.record(1);
  b.record(3);
  b.record(5);
  a.merge(b);
  assert.equal(a.count, 3);
  near(a.percentile(50), 3);
});

test('rateBetween measures a cumulative series between two levels', () => {
  const series = [
    { t: 0, n: 0 },
    { t: 1000, n: 100 },
    { t: 2000, n: 1100 },
    { t: 3000, n: 2100 },
  ];
  assert.deepEqual(rateBetween(series, 100, 2100), { rate: 1000, fromT: 1000, toT: 3000 });
  assert.ok(Number.isNaN(rateBetween(series, 0, 5000).rate));
});

test('rateBetween starts at the sample before when one step crossed both levels', () => {
  const steps = [
    { t: 0, n: 0 },
    { t: 250, n: 50 },
    { t: 500, n: 50 },
    { t: 750, n: 1000 },
  ];
  assert.deepEqual(rateBetween(steps, 100, 1000), { rate: 3800, fromT: 500, toT: 750 });
  // A series that reached everything in its first sample has nothing before it to measure from.
  assert.ok(Number.isNaN(rateBetween([{ t: 250, n: 1000 }], 100, 1000).rate));
});

test('round keeps three significant digits', () => {
  assert.equal(round(1234.5), 1235);
  assert.equal(round(0.012345), 0.0123);
  assert.equal(round(12.345), 12.3);
  assert.ok(Number.isNaN(round(Number.NaN)));
});
