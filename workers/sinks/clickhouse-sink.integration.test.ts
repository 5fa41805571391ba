/**
 * ClickhouseSink against a real ClickHouse (a database of its own): every column of every row
 * reads back exactly as written, whatever characters keys and payloads hold.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { isolate, type Isolated } from '../../test/helpers.ts';
import type { ConsumedEvent } from '../../lib/event.ts';
import { ClickhouseSink } from './clickhouse-sink.ts';

let iso: Isolated;

before(async () => {
  iso = await isolate();
});

after(async () => {
  await iso?.cleanup();
});

const AWKWARD = [
  'tab\there',
  'new\nline',
  'carriage\rreturn',
  'back\\slash',
  'back\\tslash-t',
  'quote " and \' apostrophe',
  'nul \u0000 byte',
  'ünïcödé 🚢',
  '\\N',
  '',
  // Lengths whose UTF-8 size needs a one-byte, then a two-byte length prefix (row-binary.ts).
  'a'.repeat(60),
  'é'.repeat(70),
  '🚢'.repeat(40),
];

function view(i: number, text: string, tenant = 'default'): ConsumedEvent {
  return {
    topic: 'page_views',
    partition: i % 6,
    offset: String(9_007_199_254_740_993n + BigInt(i)),
    key: `user-${text}`,
    tenant,
    schemaId: 2,
    value: {
      event_id: randomUUID(),
      received_at: 1_764_000_000_123 + i,
      user_id: `user-${text}`,
      url: `https://shop.example/${text}`,
      referrer: text === '' ? null : text,
      occurred_at: 1_764_000_000_456 + i,
    },
  };
}

test('rows read back column for column, awkward characters and 64-bit offsets included', async () => {
  const sink = new ClickhouseSink(iso.clickhouse);
  const events = AWKWARD.map((t, i) => view(i, t));
  const before = Date.now();
  await Promise.all([sink.insert(events.slice(0, 4)), sink.insert(events.slice(4))]);

  const rs = await iso.clickhouse.query({
    query: 'SELECT *, toUnixTimestamp(occurred_at) AS occurred_s FROM events FINAL ORDER BY partition, offset',
    format: 'JSONEachRow',
  });
  const rows = (await rs.json()) as Record<string, unknown>[];
  assert.equal(rows.length, events.length);
  const byId = new Map(rows.map((r) => [r.event_id as string, r]));
  for (const e of events) {
    const r = byId.get(e.value.event_id as string);
    assert.ok(r, `row of ${JSON.stringify(e.key)} is missing`);
    assert.equal(r.topic, 'page_views');
    assert.equal(r.tenant, 'default');
    assert.equal(r.key, e.key);
    assert.equal(r.partition, e.partition);
    assert.equal(String(r.offset), e.offset);
    assert.equal(r.schema_id, 2);
    assert.equal(Number(r.occurred_at_ms), e.value.occurred_at);
    assert.equal(Number(r.received_at_ms), e.value.received_at);
    assert.equal(Number(r.occurred_s), Math.floor((e.value.occurred_at as number) / 1000));
    assert.ok(Number(r.written_at_ms) >= before && Number(r.written_at_ms) <= Date.now(), 'written_at_ms is when the insert ran');
    assert.deepEqual(JSON.parse(r.payload as string), e.value);
  }
});

test('the same event id from two tenants keeps both rows; a redelivered copy still folds', async () => {
  const sink = new ClickhouseSink(iso.clickhouse);
  const acme = view(100, 'same-id', 'acme');
  const globex = { ...view(101, 'same-id', 'globex'), value: { ...acme.value, user_id: 'globex-user' } };
  await sink.insert([acme, globex]);
  await sink.insert([acme]);
  await iso.clickhouse.command({ query: 'OPTIMIZE TABLE events FINAL' });
  const rs = await iso.clickhouse.query({
    query: `SELECT tenant, key FROM events FINAL WHERE event_id = '${String(acme.value.event_id)}' ORDER BY tenant`,
    format: 'JSONEachRow',
  });
  assert.deepEqual(await rs.json(), [{ tenant: 'acme', key: 'user-same-id' }, { tenant: 'globex', key: 'user-same-id' }]);
});
