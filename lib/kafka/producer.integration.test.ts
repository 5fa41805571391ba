/**
 * The librdkafka producer against the real broker: a producer whose first connect failed (Kafka
 * unreachable) connects on a later call once Kafka is back, instead of keeping the failure.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type CuttableProxy, cuttableProxy, isolate, type Isolated } from '../../test/helpers.ts';
import { KafkaProducer } from './producer.ts';

let iso: Isolated;
let proxy: CuttableProxy;

before(async () => {
  iso = await isolate();
  const [host, port] = (iso.env.KAFKA_BROKERS!.split(',')[0] ?? '').split(':');
  proxy = await cuttableProxy(Number(port), host);
});

after(async () => {
  await proxy?.close();
  await iso?.cleanup();
});

test('a producer whose first connect failed connects once Kafka is reachable again, and produces', async () => {
  await proxy.cut();
  // Bootstraps through the proxy; the broker it then learns of is the real one.
  const producer = new KafkaProducer({ brokers: [`127.0.0.1:${proxy.port}`], connectTimeoutMs: 2_000 });
  try {
    await assert.rejects(producer.connect());
    assert.equal(await producer.ready(), false);
    await proxy.restore();
    await producer.connect();
    const [delivery] = await producer.send([{ topic: iso.topic('orders'), key: 'k-1', value: Buffer.from('x') }]);
    assert.equal(delivery?.ok, true, JSON.stringify(delivery));
    assert.equal(await producer.ready(), true);
  } finally {
    await producer.close();
  }
});
