import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClickHouseClient } from '@clickhouse/client';
import type { ConsumedEvent } from '../event.ts';
import { ClickhouseSink } from './clickhouse-sink.ts';

/** Records insert calls; the client is a stand-in for the group-commit logic only. */
function fakeClient(fail = false) {
  const calls: { table: string; values: { event_id: string; written_at_ms: number }[] }[] = [];
  const client = {
    insert: async (args: { table: string; values: { event_id: string; written_at_ms: number }[] }) => {
      calls.push(args);
      if (fail) throw new Error('clickhouse down');
    },
  } as unknown as ClickHouseClient;
  return { client, calls };
}

const event = (id: string): ConsumedEvent => ({
  topic: 'orders',
  partition: 0,
  offset: '1',
  key: 'k',
  schemaId: 1,
  value: { event_id: id, occurred_at: Date.UTC(2026, 10, 23), received_at: Date.UTC(2026, 10, 23) },
});

describe('ClickhouseSink group commit', () => {
  it('joins inserts made within flushMs into one insert and resolves both after it', async () => {
    const { client, calls } = fakeClient();
    const sink = new ClickhouseSink(client, { flushMs: 20 });
    const a = sink.insert([event('a')]);
    const b = sink.insert([event('b'), event('c')]);
    assert.equal(calls.length, 0, 'nothing written before the flush');
    await Promise.all([a, b]);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]!.values.map((r) => r.event_id), ['a', 'b', 'c']);
    assert.equal(calls[0]!.table, 'events');
  });

  it('flushes at once when maxRows is reached', async () => {
    const { client, calls } = fakeClient();
    const sink = new ClickhouseSink(client, { flushMs: 60_000, maxRows: 2 });
    await sink.insert([event('a'), event('b')]);
    assert.equal(calls.length, 1);
    await sink.insert([event('c'), event('d'), event('e')]);
    assert.equal(calls.length, 2);
  });

  it('rejects every waiter of a failed flush, and the next insert starts a new buffer', async () => {
    const { client, calls } = fakeClient(true);
    const sink = new ClickhouseSink(client, { flushMs: 5 });
    const results = await Promise.allSettled([sink.insert([event('a')]), sink.insert([event('b')])]);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
    await assert.rejects(sink.insert([event('c')]), /clickhouse down/);
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[1]!.values.map((r) => r.event_id), ['c']);
  });

  it('stamps written_at_ms at the flush, not at the call', async () => {
    const { client, calls } = fakeClient();
    const sink = new ClickhouseSink(client, { flushMs: 30 });
    const before = Date.now();
    await sink.insert([event('a')]);
    assert.ok(calls[0]!.values[0]!.written_at_ms >= before + 25);
  });

  it('an empty insert writes nothing', async () => {
    const { client, calls } = fakeClient();
    await new ClickhouseSink(client).insert([]);
    assert.equal(calls.length, 0);
  });
});
