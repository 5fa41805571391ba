import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buckets, parseMetrics, quantile, total } from './prometheus-text.ts';
import { PipelineProbe, type ProbeSources } from './pipeline-probe.ts';

describe('prometheus text', () => {
  it('reads samples and labels, sums by labels, and takes quantiles of bucket deltas', () => {
    const s = parseMetrics(
      '# HELP x\nferry_a_total{group="read-model",topic="o"} 3\nferry_a_total{group="analytics"} 4\nferry_h_bucket{le="0.01",sink="pg"} 90\nferry_h_bucket{le="0.1",sink="pg"} 99\nferry_h_bucket{le="+Inf",sink="pg"} 100\n',
    );
    assert.equal(total(s, 'ferry_a_total'), 7);
    assert.equal(total(s, 'ferry_a_total', { group: 'analytics' }), 4);
    const b = buckets(s, 'ferry_h', { sink: 'pg' });
    assert.ok(Math.abs(quantile(0.99, b)! - 0.1) < 1e-9);
    assert.ok(Math.abs(quantile(0.5, b)! - 0.01 * (50 / 90)) < 1e-9);
    assert.equal(quantile(0.99, b, b), undefined, 'nothing observed in between');
  });
});

function sources(over: Partial<ProbeSources> = {}, state = { applied: 0 }): ProbeSources {
  return {
    gatewayMetrics: async () =>
      'ferry_gateway_http_requests_total{method="POST",route="/v1/events/:topic",status="202"} 10\nferry_gateway_produced_records_total{outcome="accepted",code=""} 10\n',
    workerMetrics: [
      async () => `ferry_worker_events_applied_total{topic="orders",group="read-model"} ${state.applied}\nferry_worker_sink_outage{group="analytics"} 0\n`,
    ],
    pings: { postgres: async () => {}, redis: async () => {}, clickhouse: async () => {}, 'queue-redis': async () => {} },
    lag: async () => ({ groups: { 'read-model': [{ topic: 'orders', partition: 0, high: 10, committed: 7, lag: 3 }] }, partitions: { orders: 1 } }),
    deadLetters: async () => 0,
    retries: async () => 0,
    ...over,
  };
}

describe('PipelineProbe', () => {
  it('turns counters into rates and readings into boxes', async () => {
    const state = { applied: 0 };
    const probe = new PipelineProbe(sources({}, state));
    await probe.tick(1000);
    await new Promise((r) => setTimeout(r, 5));
    state.applied = 20;
    const s = await probe.tick(3000);
    const arrow = s.arrows.find((a) => a.from === 'kafka' && a.to === 'read-model')!;
    assert.equal(arrow.rate, 10, '20 events over 2 s');
    const box = (id: string) => s.boxes.find((b) => b.id === id)!;
    assert.equal(box('postgres').health, 'up');
    assert.equal(box('kafka').health, 'up');
    assert.equal(box('read-model').reason, 'lag 3');
    assert.deepEqual(s.lag['read-model']!.map((p) => p.lag), [3]);
  });

  it('turns a store that does not answer down, with the reason, and a sink outage degraded', async () => {
    const probe = new PipelineProbe(sources({
      pings: {
        postgres: async () => {},
        redis: async () => {},
        clickhouse: () => Promise.reject(new Error('connect ECONNREFUSED')),
        'queue-redis': () => new Promise(() => {}),
      },
      workerMetrics: [async () => 'ferry_worker_sink_outage{group="analytics"} 1\n'],
      gatewayMetrics: () => Promise.reject(new Error('fetch failed')),
    }));
    const s = await probe.tick();
    const box = (id: string) => s.boxes.find((b) => b.id === id)!;
    assert.deepEqual([box('clickhouse').health, box('clickhouse').reason], ['down', 'unreachable: connect ECONNREFUSED']);
    assert.match(box('queue-redis').reason, /no answer in 900 ms/);
    assert.equal(box('analytics').health, 'degraded');
    assert.equal(box('gateway').health, 'down');
    assert.equal(box('producer').health, 'down');
  });
});
