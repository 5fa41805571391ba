import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allowRepairsOnly, hostName, withoutPayload } from './app.ts';

const value = Buffer.from('{"card":"4111 1111 1111 1111"}').toString('base64');

describe('withoutPayload', () => {
  it('shows a dead letter without its bytes, with their size', () => {
    const letter = { topic: 'orders', partition: 1, offset: '9', key: 'o-1', value_base64: value, step: 'apply', error: 'e' };
    assert.deepEqual(withoutPayload(letter), { topic: 'orders', partition: 1, offset: '9', key: 'o-1', step: 'apply', error: 'e', value_bytes: 30 });
    assert.deepEqual(withoutPayload({ ...letter, value_base64: null }), {
      topic: 'orders',
      partition: 1,
      offset: '9',
      key: 'o-1',
      step: 'apply',
      error: 'e',
      value_bytes: 0,
    });
  });

  it("shows a retry job's parked record parsed and without its bytes", () => {
    const head = JSON.stringify({ topic: 'orders', partition: 2, offset: '5', key: 'o-2', value_base64: value });
    const shown = withoutPayload({ list: 'l', head, errors: [{ at: 't', error: 'boom' }] });
    assert.deepEqual(shown, {
      list: 'l',
      head: { topic: 'orders', partition: 2, offset: '5', key: 'o-2', value_bytes: 30 },
      errors: [{ at: 't', error: 'boom' }],
    });
    assert.ok(!JSON.stringify(shown).includes(value));
    assert.deepEqual(withoutPayload({ list: 'l', head: 'not json' }), { list: 'l', head: '(not shown)' });
  });

  it('leaves other data alone', () => {
    assert.deepEqual(withoutPayload({ a: 1 }), { a: 1 });
    assert.equal(withoutPayload(null), null);
    assert.equal(withoutPayload('x'), 'x');
  });
});

describe('allowRepairsOnly', () => {
  const ask = (method: string, route: string) => allowRepairsOnly({ method, route, request: {} } as never);

  it('lets reads, replays and discards through', () => {
    for (
      const [m, r] of [
        ['get', '/api/queues'],
        ['get', '/api/queues/:queueName/:jobId'],
        ['put', '/api/queues/:queueName/:jobId/retry'],
        ['put', '/api/queues/:queueName/retry/:queueStatus'],
        ['put', '/api/queues/:queueName/:jobId/clean'],
        ['put', '/api/queues/:queueName/clean/:queueStatus'],
      ] as const
    ) {
      assert.deepEqual(ask(m, r), { allow: true }, `${m} ${r}`);
    }
  });

  it('refuses every other change with 403', () => {
    for (
      const [m, r] of [
        ['post', '/api/queues/:queueName/add'],
        ['patch', '/api/queues/:queueName/:jobId/update-data'],
        ['put', '/api/queues/:queueName/empty'],
        ['put', '/api/queues/:queueName/obliterate'],
        ['put', '/api/queues/:queueName/pause'],
        ['put', '/api/queues/pause'],
        ['put', '/api/queues/:queueName/:jobId/promote'],
        ['patch', '/api/queues/:queueName/:jobId/delay'],
      ] as const
    ) {
      const answer = ask(m, r) as { allow: boolean; status?: number };
      assert.equal(answer.allow, false, `${m} ${r}`);
      assert.equal(answer.status, 403);
    }
  });
});

describe('hostName', () => {
  it('drops the port and lower-cases, brackets kept for IPv6', () => {
    assert.equal(hostName('LocalHost:9400'), 'localhost');
    assert.equal(hostName('127.0.0.1'), '127.0.0.1');
    assert.equal(hostName('[::1]:9400'), '[::1]');
    assert.equal(hostName('ops.example'), 'ops.example');
  });
});
