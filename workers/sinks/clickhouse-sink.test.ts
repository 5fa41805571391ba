import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import type { ConsumedEvent } from '../../lib/event.ts';
import { ClickhouseSink, EVENT_COLUMNS } from './clickhouse-sink.ts';

type Values = { event_id: string; written_at_ms: number }[];

/** The rows of a RowBinary body, the columns tests look at. */
function rowsOf(body: Buffer): Values {
  let pos = 0;
  const str = () => {
    let n = 0;
    let shift = 0;
    for (;;) {
      const b = body[pos++]!;
      n += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) break;
    }
    pos += n;
    return body.toString('utf8', pos - n, pos);
  };
  const u32 = () => (pos += 4, body.readUInt32LE(pos - 4));
  const u64 = () => (pos += 8, Number(body.readBigUInt64LE(pos - 8)));
  const read: Record<(typeof EVENT_COLUMNS)[number], () => string | number> = {
    event_id: str,
    topic: str,
    tenant: str,
    key: str,
    occurred_at: u32,
    occurred_at_ms: u64,
    received_at_ms: u64,
    written_at_ms: u64,
    partition: u32,
    offset: u64,
    schema_id: u32,
    payload: str,
  };
  const rows: Values = [];
  while (pos < body.length) {
    const row: Record<string, string | number> = {};
    for (const c of EVENT_COLUMNS) row[c] = read[c]();
    rows.push(row as Values[number]);
  }
  return rows;
}

/**
 * Records insert calls; the client is a stand-in for the group-commit logic only. Each insert
 * stays open until `release()` lets the oldest one finish (or fail when `fail` is set).
 */
function fakeClient(fail = false) {
  const calls: { query: string; values: Values }[] = [];
  const open: (() => void)[] = [];
  const client = {
    exec: async (args: { query: string; values: Readable }) => {
      const chunks: Buffer[] = [];
      for await (const c of args.values) chunks.push(c as Buffer);
      calls.push({ query: args.query, values: rowsOf(Buffer.concat(chunks)) });
      await new Promise<void>((resolve, reject) => open.push(() => (fail ? reject(new Error('clickhouse down')) : resolve())));
      return { stream: Readable.from([]) };
    },
  } as unknown as ClickHouseClient;
  const release = async () => {
    await waitUntil(() => open.length > 0);
    open.shift()!();
  };
  return { client, calls, release, open };
}

async function waitUntil(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setImmediate(r));
  }
}

const event = (id: string): ConsumedEvent => ({
  topic: 'orders',
  partition: 0,
  offset: '1',
  key: 'k',
  tenant: 'default',
  schemaId: 1,
  value: { event_id: id, occurred_at: Date.UTC(2026, 10, 23), received_at: Date.UTC(2026, 10, 23) },
});

const ids = (v: Values) => v.map((r) => r.event_id);

describe('ClickhouseSink group commit', () => {
  it('batches handed over in the same turn share one insert, and both resolve after it', async () => {
    const { client, calls, release } = fakeClient();
    const sink = new ClickhouseSink(client);
    const a = sink.insert([event('a')]);
    const b = sink.insert([event('b'), event('c')]);
    assert.equal(calls.length, 0, 'nothing written within the turn');
    await release();
    await Promise.all([a, b]);
    assert.equal(calls.length, 1);
    assert.deepEqual(ids(calls[0]!.values), ['a', 'b', 'c']);
    assert.equal(calls[0]!.query, `INSERT INTO \`events\` (${EVENT_COLUMNS.join(', ')}) FORMAT RowBinary`);
  });

  it('while maxInFlight inserts run, later rows gather and go out together as soon as one returns', async () => {
    const { client, calls, release } = fakeClient();
    const sink = new ClickhouseSink(client, { maxInFlight: 1 });
    let aDone = false;
    const a = sink.insert([event('a')]).then(() => (aDone = true));
    await waitUntil(() => calls.length === 1);
    const b = sink.insert([event('b')]);
    await new Promise((r) => setTimeout(r, 20));
    const c = sink.insert([event('c')]);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(calls.length, 1, 'one insert at a time');
    assert.equal(aDone, false, 'a waits for its insert');
    await release();
    await a;
    await release();
    await Promise.all([b, c]);
    assert.deepEqual(calls.map((call) => ids(call.values)), [['a'], ['b', 'c']]);
  });

  it('starts a new buffer when the waiting one holds maxRows, and never splits a batch', async () => {
    const { client, calls, release } = fakeClient();
    const sink = new ClickhouseSink(client, { maxRows: 2, maxInFlight: 1 });
    const first = sink.insert([event('a')]);
    await waitUntil(() => calls.length === 1);
    const rest = [sink.insert([event('b'), event('c'), event('d')]), sink.insert([event('e')])];
    for (let i = 0; i < 3; i++) await release();
    await Promise.all([first, ...rest]);
    assert.deepEqual(calls.map((call) => ids(call.values)), [['a'], ['b', 'c', 'd'], ['e']]);
  });

  it('rejects every waiter of a failed insert, and the next insert is a new one', async () => {
    const { client, calls, release } = fakeClient(true);
    const sink = new ClickhouseSink(client);
    const both = Promise.allSettled([sink.insert([event('a')]), sink.insert([event('b')])]);
    await release();
    assert.deepEqual((await both).map((r) => r.status), ['rejected', 'rejected']);
    const c = sink.insert([event('c')]);
    await release();
    await assert.rejects(c, /clickhouse down/);
    assert.equal(calls.length, 2);
    assert.deepEqual(ids(calls[1]!.values), ['c']);
  });

  it('stamps written_at_ms when the insert starts, not at the call', async () => {
    const { client, calls, release } = fakeClient();
    const sink = new ClickhouseSink(client, { maxInFlight: 1 });
    const first = sink.insert([event('a')]);
    await waitUntil(() => calls.length === 1);
    const before = Date.now();
    const second = sink.insert([event('b')]);
    await new Promise((r) => setTimeout(r, 30));
    await release();
    await first;
    await release();
    await second;
    assert.ok(calls[1]!.values[0]!.written_at_ms >= before + 25);
  });

  it('runs two inserts at a time by default', async () => {
    const { client, calls, release, open } = fakeClient();
    const sink = new ClickhouseSink(client);
    const a = sink.insert([event('a')]);
    await waitUntil(() => calls.length === 1);
    const b = sink.insert([event('b')]);
    await waitUntil(() => calls.length === 2);
    const c = sink.insert([event('c')]);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(open.length, 2, 'the third waits');
    for (let i = 0; i < 3; i++) await release();
    await Promise.all([a, b, c]);
    assert.deepEqual(calls.map((call) => ids(call.values)), [['a'], ['b'], ['c']]);
  });

  it('an event that does not fit its columns fails its own batch only', async () => {
    const { client, calls, release } = fakeClient();
    const sink = new ClickhouseSink(client);
    const bad = { ...event('bad'), value: { ...event('bad').value, occurred_at: -1 } };
    const good = sink.insert([event('a')]);
    await assert.rejects(sink.insert([event('b'), bad]), RangeError);
    const next = sink.insert([event('c')]);
    await release();
    await Promise.all([good, next]);
    assert.deepEqual(calls.map((call) => ids(call.values)), [['a', 'c']]);
  });

  it('an empty insert writes nothing', async () => {
    const { client, calls } = fakeClient();
    await new ClickhouseSink(client).insert([]);
    assert.equal(calls.length, 0);
  });
});
