import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadRegistry } from '../schemas/registry.ts';
import { toAvro } from '../schemas/validate.ts';
import { idsOfAnswer } from './run-loadtest.ts';
import { pageViewUrl, planRequest, seqOfOrder, seqOfPageView, seqOfPayload, tagOf, validateWorkload } from './workload.ts';

const w = validateWorkload({ runId: 'rtest01', batch: 4, ordersRatio: 0.5, keys: 50, baseTime: Date.UTC(2026, 0, 1) });

test('requests are deterministic per sequence number', () => {
  assert.deepEqual(planRequest(w, 17), planRequest(w, 17));
  assert.notDeepEqual(planRequest(w, 17).body, planRequest(w, 18).body);
});

test('every generated event is valid for the gateway, keyed under the run tag, and traceable to its request', () => {
  const registry = loadRegistry();
  const topics = new Set<string>();
  for (let seq = 0; seq < 200; seq++) {
    const r = planRequest(w, seq);
    topics.add(r.topic);
    assert.equal(r.path, `/v1/events/${r.topic}`);
    const body = JSON.parse(r.body) as unknown[];
    assert.equal(body.length, 4);
    body.forEach((e, i) => {
      const checked = toAvro(registry.topics.get(r.topic)!.latest.schema, e, { event_id: crypto.randomUUID(), received_at: Date.now() });
      assert.ok(checked.ok, JSON.stringify(checked));
      const v = e as Record<string, unknown>;
      if (r.topic === 'orders') {
        assert.ok(String(v.order_id).startsWith(tagOf(w.runId)));
        assert.equal(seqOfOrder(v.amount_cents as number), seq);
        assert.equal((v.amount_cents as number) % 1000, i);
        assert.equal(seqOfPayload('orders', JSON.stringify(v)), seq);
      } else {
        assert.ok(String(v.user_id).startsWith(tagOf(w.runId)));
        assert.equal(seqOfPageView(v.referrer as string), seq);
        assert.equal(seqOfPayload('page_views', JSON.stringify(v)), seq);
        assert.ok(String(v.url).startsWith(`https://shop.example/${w.runId}/`));
      }
    });
  }
  assert.deepEqual(topics, new Set(['orders', 'page_views']), 'both topics at ratio 0.5');
});

test('batch 1 sends a single object; the ratio and key spread are honoured', () => {
  const single = validateWorkload({ runId: 'rtest02', batch: 1, ordersRatio: 1, keys: 3 });
  const keys = new Set<string>();
  for (let seq = 0; seq < 100; seq++) {
    const r = planRequest(single, seq);
    assert.equal(r.topic, 'orders');
    const e = JSON.parse(r.body) as Record<string, unknown>;
    assert.ok(!Array.isArray(e));
    keys.add(String(e.order_id));
  }
  assert.deepEqual(keys, new Set(['rtest02-o0', 'rtest02-o1', 'rtest02-o2']));
  const views = validateWorkload({ runId: 'rtest03', batch: 1, ordersRatio: 0, keys: 3 });
  assert.equal(planRequest(views, 5).topic, 'page_views');
});

test('traces of foreign events are unknown', () => {
  assert.equal(seqOfPageView(null), undefined);
  assert.equal(seqOfPageView('https://example.com/1/2'), undefined);
  assert.equal(seqOfPayload('orders', 'not json'), undefined);
  assert.equal(pageViewUrl('rx1', 33), 'https://shop.example/rx1/p1');
});

test('invalid workloads are refused', () => {
  assert.throws(() => validateWorkload({ runId: 'Bad-Id', batch: 1, ordersRatio: 0.5, keys: 1 }), /run id/);
  assert.throws(() => validateWorkload({ runId: 'rok', batch: 0, ordersRatio: 0.5, keys: 1 }), /batch/);
  assert.throws(() => validateWorkload({ runId: 'rok', batch: 1, ordersRatio: 2, keys: 1 }), /ratio/);
  assert.throws(() => validateWorkload({ runId: 'rok', batch: 1, ordersRatio: 0.5, keys: 0 }), /keys/);
});

test('answers: ids of a 202, of a batch, and of a 207 with failed entries', () => {
  assert.deepEqual(idsOfAnswer(202, '{"event_id":"e1","topic":"orders","partition":1,"offset":"5"}'), { accepted: ['e1'], failed: [] });
  assert.deepEqual(
    idsOfAnswer(
      207,
      JSON.stringify({
        topic: 'orders',
        accepted: 1,
        failed: 1,
        results: [{ status: 'accepted', event_id: 'a' }, { status: 'failed', index: 1, event_id: 'b' }],
      }),
    ),
    { accepted: ['a'], failed: [{ index: 1, id: 'b' }] },
  );
  assert.deepEqual(idsOfAnswer(503, '{"title":"Kafka unavailable"}'), { accepted: [], failed: [] });
});
