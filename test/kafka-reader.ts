/** Reads a test topic back from Kafka the way any standard consumer would. */
import { createRequire } from 'node:module';
import type { KafkaJS as KafkaJSTypes } from '@confluentinc/kafka-javascript';

const require = createRequire(import.meta.url);
const { KafkaJS } = require('@confluentinc/kafka-javascript') as { KafkaJS: typeof KafkaJSTypes };

export interface ReadRecord {
  partition: number;
  offset: string;
  key: string;
  value: Buffer;
  /** Record headers as text (`ferry-tenant`, say). */
  headers: Record<string, string>;
}

/** Consumes `topic` from the beginning until `count` records arrived or the deadline passed. */
export async function readTopic(brokers: string, topic: string, count: number, timeoutMs = 30_000): Promise<ReadRecord[]> {
  const kafka = new KafkaJS.Kafka({ kafkaJS: { brokers: brokers.split(','), logLevel: KafkaJS.logLevel.ERROR } });
  const consumer = kafka.consumer({ kafkaJS: { groupId: `reader-${topic}-${Date.now()}`, fromBeginning: true, autoCommit: false } });
  const records: ReadRecord[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic] });
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
      records.push({ partition, offset: message.offset, key: message.key?.toString() ?? '', value: message.value ?? Buffer.alloc(0), headers });
      if (records.length >= count) done();
    },
  });
  const timer = setTimeout(done, timeoutMs);
  await finished;
  clearTimeout(timer);
  await consumer.disconnect();
  return records;
}
