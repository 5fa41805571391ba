/**
 * Ferry's records decode with Confluent's own client: the registry process (registry/main.ts)
 * serves the schemas, and `@confluentinc/schemaregistry`'s SchemaRegistryClient and
 * AvroDeserializer, in their default configuration, turn the raw bytes read from Kafka into the
 * events that were posted. No code of Ferry's is on the decoding path, only its HTTP API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AvroDeserializer, SchemaRegistryClient, SerdeType } from '@confluentinc/schemaregistry';
import { loadRegistry } from '../schemas/registry.ts';
import { freePort, isolate, type Isolated, orderEvent, postJson, type Proc, startGateway, startProcess, waitFor } from './helpers.ts';
import { readTopic } from './kafka-reader.ts';

const registry = loadRegistry();
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

describe('a Confluent consumer decodes what the gateway produced', () => {
  let iso: Isolated;
  let gatewayUrl: string;
  let registryUrl: string;
  let registryProc: Proc;

  before(async () => {
    iso = await isolate();
    cleanups.push(() => iso.cleanup());
    const port = await freePort();
    registryUrl = `http://127.0.0.1:${port}`;
    registryProc = startProcess('registry/main.ts', { ...iso.env, REGISTRY_PORT: String(port) });
    cleanups.push(() => registryProc.stop());
    await waitFor(async () => (await fetch(`${registryUrl}/subjects`)).ok, { what: 'schema registry up', timeoutMs: 30_000 }).catch((err) => {
      throw new Error(`${(err as Error).message}\n${registryProc.output()}`);
    });
    const gateway = await startGateway(iso.env);
    cleanups.push(() => gateway.proc.stop());
    gatewayUrl = gateway.url;
  });

  it('lists the subjects of the deployment, named after its topics', async () => {
    const client = new SchemaRegistryClient({ baseURLs: [registryUrl] });
    const subjects = await client.getAllSubjects();
    assert.deepEqual(subjects.sort(), [iso.topic('orders'), iso.topic('page_views')].map((t) => `${t}-value`).sort());
    const latest = await client.getLatestSchemaMetadata(`${iso.topic('orders')}-value`);
    assert.equal(latest.id, registry.topics.get('orders')!.latest.id);
    assert.equal(await client.getCompatibility(`${iso.topic('orders')}-value`), 'BACKWARD_TRANSITIVE');
  });

  it('an order, read raw from Kafka, deserializes with AvroDeserializer to the posted fields', async () => {
    const posted = orderEvent('o-confluent-1', 'paid', '2026-11-23T10:15:00.250Z', {
      customer_id: 'c-ünïcode-🚢',
      amount_cents: 9_007_199_254_740_990,
      currency: 'SEK',
      items: [
        { sku: 'SKU-1', quantity: 2, price_cents: 1250 },
        { sku: 'SKU-2', quantity: 1, price_cents: 0 },
      ],
    });
    const answer = await postJson(`${gatewayUrl}/v1/events/orders`, posted);
    assert.equal(answer.status, 202, answer.text);

    const [record] = await readTopic(iso.env.KAFKA_BROKERS!, iso.topic('orders'), 1);
    assert.ok(record, 'the order reached Kafka');
    assert.ok(Buffer.isBuffer(record.value));
    assert.equal(record.value.readUInt32BE(1), registry.topics.get('orders')!.latest.id, 'framed with the registered id');

    const deserializer = new AvroDeserializer(new SchemaRegistryClient({ baseURLs: [registryUrl] }), SerdeType.VALUE, {});
    const value = (await deserializer.deserialize(iso.topic('orders'), record.value)) as Record<string, unknown>;
    assert.equal(value.event_id, answer.json.event_id);
    assert.equal(value.order_id, posted.order_id);
    assert.equal(value.customer_id, posted.customer_id);
    assert.equal(value.status, 'paid');
    assert.equal(value.amount_cents, posted.amount_cents);
    assert.equal(value.currency, 'SEK');
    assert.deepEqual(JSON.parse(JSON.stringify(value.items)), posted.items);
    assert.equal(new Date(value.occurred_at as number | Date).getTime(), Date.parse(posted.occurred_at));
    const receivedAt = new Date(value.received_at as number | Date).getTime();
    assert.ok(Math.abs(receivedAt - Date.now()) < 120_000, `received_at ${receivedAt} is about now`);
    assert.equal(record.key, posted.order_id);
  });

  it('a page view with and without a referrer (an Avro union) deserializes too', async () => {
    const views = [
      { user_id: 'u-confluent', url: 'https://shop.example/p/1', referrer: 'https://search.example/?q=ferry', occurred_at: '2026-11-23T10:16:00Z' },
      { user_id: 'u-confluent', url: 'https://shop.example/p/2', occurred_at: '2026-11-23T10:17:00Z' },
    ];
    const answer = await postJson(`${gatewayUrl}/v1/events/page_views`, views);
    assert.equal(answer.status, 202, answer.text);
    const records = await readTopic(iso.env.KAFKA_BROKERS!, iso.topic('page_views'), 2);
    assert.equal(records.length, 2);
    const deserializer = new AvroDeserializer(new SchemaRegistryClient({ baseURLs: [registryUrl] }), SerdeType.VALUE, {});
    const decoded = await Promise.all(records.map(async (r) => (await deserializer.deserialize(iso.topic('page_views'), r.value)) as Record<string, unknown>));
    decoded.sort((a, b) => String(a.url).localeCompare(String(b.url)));
    assert.deepEqual(
      decoded.map((v) => [v.user_id, v.url, v.referrer, new Date(v.occurred_at as number | Date).toISOString()]),
      [
        ['u-confluent', 'https://shop.example/p/1', 'https://search.example/?q=ferry', '2026-11-23T10:16:00.000Z'],
        ['u-confluent', 'https://shop.example/p/2', null, '2026-11-23T10:17:00.000Z'],
      ],
    );
  });
});
