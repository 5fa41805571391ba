import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { createApp } from './app.ts';
import { FakeProducer, FakeReadModel, order, post } from '../test/fakes.ts';

const registry = loadRegistry();

describe('order ids no store can hold', () => {
  // The read model fails as PostgreSQL does on NUL (invalid byte sequence): the id must not reach it.
  const readModel = new FakeReadModel();
  readModel.failWith = new Error('invalid byte sequence for encoding "UTF8": 0x00');
  const producer = new FakeProducer();
  const app = createApp({ registry, codec: new Codec(registry), producer, readModel });

  it('GET answers 404, not 503, for an id with NUL', async () => {
    for (const path of ['o%00', '%00', 'a%00b']) {
      const res = await app.request(`/v1/orders/${path}`);
      assert.equal(res.status, 404, path);
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
    }
  });

  it('POST refuses such ids with 422 naming the field, and produces nothing', async () => {
    for (
      const [body, field] of [
        [order('o\u0000'), 'order_id'],
        [order('o\ud800'), 'order_id'],
        [order('o-1', { customer_id: 'c\u0000' }), 'customer_id'],
        [order('o-1', { occurred_at: '0000-01-01T00:00:00Z' }), 'occurred_at'],
        [order('o-1', { occurred_at: '1969-12-31T23:59:59Z' }), 'occurred_at'],
      ] as const
    ) {
      const res = await app.request('/v1/events/orders', post(body));
      assert.equal(res.status, 422);
      const problem = (await res.json()) as { errors: { field: string; reason: string }[] };
      assert.deepEqual(problem.errors.map((e) => e.field), [field]);
    }
    assert.equal(producer.sent.length, 0);
  });
});
