/**
 * A second version of `orders`, added the way a person would (a new .avsc and its registry.json
 * entry, here in a temp copy of this folder): the gateway writes the newest version, workers
 * still read records written with the old one, and an incompatible version stops the loader.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createApp } from '../gateway/app.ts';
import type { OutgoingRecord } from '../lib/kafka/event-producer.ts';
import { type ConsumedEvent, decodeRecord } from '../lib/event.ts';
import { FakeProducer, order, post } from '../test/fakes.ts';
import { committedSchema, fixtureRegistry, withFields } from '../test/schema-fixtures.ts';
import { Codec } from './codec.ts';
import { loadRegistry, type Registry } from './registry.ts';

const ordersV1 = committedSchema('orders');
const coupon = { name: 'coupon', type: ['null', 'string'], default: null, doc: 'A discount code, if one was used.' };

/** Posts `body` to a gateway built on `registry`; the records it produced. */
async function throughGateway(registry: Registry, body: unknown): Promise<OutgoingRecord[]> {
  const producer = new FakeProducer();
  const app = createApp({ producer, registry, codec: new Codec(registry), topicName: (t) => `p.${t}` });
  const res = await app.request('/v1/events/orders', post(body));
  assert.equal(res.status, 202, await res.text());
  return producer.records;
}

/** Decodes a produced record the way a worker does. */
function asWorker(registry: Registry, record: OutgoingRecord): ConsumedEvent {
  const decoded = decodeRecord(new Codec(registry), 'p.', {
    topic: record.topic,
    partition: 0,
    offset: '0',
    key: Buffer.from(record.key),
    value: Buffer.from(record.value),
    headers: record.headers ?? {},
  });
  if (decoded instanceof Error) throw decoded;
  return decoded;
}

const schemaIdOf = (record: OutgoingRecord) => Buffer.from(record.value).readUInt32BE(1);

describe('adding orders v2 with an optional field', () => {
  const v1 = loadRegistry();
  const fixture = fixtureRegistry([{ topic: 'orders', schema: withFields(ordersV1, (f) => [...f, coupon]) }]);
  after(() => fixture.cleanup());
  const v2 = loadRegistry(fixture.dir);
  const v1Id = v1.topics.get('orders')!.latest.id;
  const v2Id = fixture.ids[0]!;

  it('registers it as the newest version under a new id', () => {
    const orders = v2.topics.get('orders')!;
    assert.deepEqual(
      orders.versions.map((v) => [v.id, v.version, v.file]),
      [
        [v1Id, 1, 'orders.v1.avsc'],
        [v2Id, 2, 'orders.v2.avsc'],
      ],
    );
    assert.equal(orders.latest.id, v2Id);
  });

  it('records written with v1 before the change still decode in a worker that knows v2', async () => {
    const [old] = await throughGateway(v1, order('o-old'));
    assert.equal(schemaIdOf(old!), v1Id);
    const event = asWorker(v2, old!);
    assert.equal(event.schemaId, v1Id);
    assert.equal(event.value.order_id, 'o-old');
    assert.equal(event.value.coupon, null, 'the new field takes its default');
  });

  it('the gateway encodes with v2, with or without the new field', async () => {
    const records = await throughGateway(v2, [order('o-new', { coupon: 'SALE' }), order('o-plain')]);
    assert.deepEqual(records.map(schemaIdOf), [v2Id, v2Id]);
    assert.equal(asWorker(v2, records[0]!).value.coupon, 'SALE');
    assert.equal(asWorker(v2, records[1]!).value.coupon, null);
  });

  it('a worker still on v1 cannot decode a v2 record: deploy workers before gateways', async () => {
    const [record] = await throughGateway(v2, order('o-new'));
    assert.match(
      decodeRecord(new Codec(v1), 'p.', { topic: 'p.orders', partition: 0, offset: '0', key: null, value: Buffer.from(record!.value) }).toString(),
      new RegExp(`unknown schema id ${v2Id}`),
    );
  });
});

describe('an incompatible orders v2', () => {
  it('is refused by the loader, naming the field', () => {
    const fixture = fixtureRegistry([{ topic: 'orders', schema: withFields(ordersV1, (f) => [...f, { name: 'coupon', type: 'string' }]) }]);
    try {
      assert.throws(
        () => loadRegistry(fixture.dir),
        /^Error: schema registry: orders version 2 \(orders\.v2\.avsc\) cannot read records written with version 1 \(orders\.v1\.avsc\): field coupon is new and has no default/,
      );
    } finally {
      fixture.cleanup();
    }
  });

  it('is refused when it reads the previous version but not an older one', () => {
    // v3 makes coupon required: it reads v2 records (they all have one) but not v1 records.
    const v2 = withFields(ordersV1, (f) => [...f, coupon]);
    const v3 = withFields(ordersV1, (f) => [...f, { name: 'coupon', type: ['null', 'string'] }]);
    const fixture = fixtureRegistry([
      { topic: 'orders', schema: v2 },
      { topic: 'orders', schema: v3 },
    ]);
    try {
      assert.throws(
        () => loadRegistry(fixture.dir),
        /orders version 3 \(orders\.v3\.avsc\) cannot read records written with version 1 \(orders\.v1\.avsc\): field coupon is new/,
      );
    } finally {
      fixture.cleanup();
    }
  });
});
