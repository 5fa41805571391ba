import assert from 'node:assert/strict';
import { test } from 'node:test';
import { digest, digests, parseHistograms, quantile, subtract } from './prom.ts';

const page = (n: number) =>
  `# HELP ferry_worker_sink_write_seconds Time of one batched sink write
# TYPE ferry_worker_sink_write_seconds histogram
ferry_worker_sink_write_seconds_bucket{le="0.01",sink="postgres"} ${n}
ferry_worker_sink_write_seconds_bucket{le="0.1",sink="postgres"} ${3 * n}
ferry_worker_sink_write_seconds_bucket{le="+Inf",sink="postgres"} ${4 * n}
ferry_worker_sink_write_seconds_sum{sink="postgres"} ${0.2 * n}
ferry_worker_sink_write_seconds_count{sink="postgres"} ${4 * n}
ferry_worker_batch_seconds_bucket{le="0.5"} ${n}
ferry_worker_batch_seconds_bucket{le="+Inf"} ${n}
ferry_worker_batch_seconds_sum ${0.1 * n}
ferry_worker_batch_seconds_count ${n}
ferry_worker_events_applied_total{topic="orders"} 12
`;

test('histograms are parsed with their labels, buckets sorted, counters ignored', () => {
  const hs = parseHistograms(page(10));
  assert.deepEqual([...hs.keys()], ['ferry_worker_sink_write_seconds{sink="postgres"}', 'ferry_worker_batch_seconds']);
  const h = hs.get('ferry_worker_sink_write_seconds{sink="postgres"}')!;
  assert.deepEqual(h.buckets, [{ le: 0.01, count: 10 }, { le: 0.1, count: 30 }, { le: Number.POSITIVE_INFINITY, count: 40 }]);
  assert.equal(h.count, 40);
  assert.equal(h.sum, 2);
});

test('quantiles interpolate within a bucket, like histogram_quantile', () => {
  const h = parseHistograms(page(10)).get('ferry_worker_sink_write_seconds{sink="postgres"}')!;
  assert.equal(quantile(h, 0.25), 0.01);
  // rank 20 of 40: halfway through the (0.01, 0.1] bucket, which holds ranks 11..30.
  assert.ok(Math.abs(quantile(h, 0.5) - 0.055) < 1e-9);
  // In +Inf: the last finite bound.
  assert.equal(quantile(h, 0.99), 0.1);
  assert.deepEqual(digest(h).count, 40);
  assert.equal(digest(h).mean, 0.05);
});

test('the difference of two scrapes covers what happened between them', () => {
  const before = parseHistograms(page(10)).get('ferry_worker_batch_seconds')!;
  const after = parseHistograms(page(30)).get('ferry_worker_batch_seconds')!;
  const d = subtract(after, before);
  assert.equal(d.count, 20);
  assert.ok(Math.abs(d.sum - 2) < 1e-9);
  const all = digests(page(30), page(10), ['ferry_worker_']);
  assert.equal(all['ferry_worker_sink_write_seconds{sink="postgres"}']!.count, 80);
  assert.ok(Number.isNaN(quantile({ name: 'x', labels: '', buckets: [], sum: 0, count: 0 }, 0.5)));
});
