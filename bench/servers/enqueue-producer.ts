/**
 * For ratio c only: an EventProducer that answers as soon as librdkafka took the records into
 * its queue, without waiting for Kafka's acknowledgement. It wraps the product's KafkaProducer
 * (same settings, same code path) and changes only when `send` resolves.
 *
 * KafkaProducer.send calls produce() for every record before its first macrotask turn (one
 * await on the already-resolved connection, then a synchronous loop). So after a setImmediate:
 * - if the send already settled, librdkafka refused records synchronously (in-flight bound,
 *   queue full): that answer is returned as is;
 * - otherwise every record was handed to librdkafka, and they are answered as accepted (there is
 *   no partition or offset yet: -1). Limitation: if librdkafka refused only some records of one
 *   send, those are answered as accepted too; `lateFailures` counts every record answered as
 *   accepted whose delivery failed, and the benchmark treats a leg with late failures as invalid.
 */
import type { KafkaProducer } from '../../lib/kafka/producer.ts';
import type { Delivery, EventProducer, OutgoingRecord } from '../../lib/kafka/event-producer.ts';

export class EnqueueOnlyProducer implements EventProducer {
  lateFailures = 0;

  constructor(readonly inner: KafkaProducer) {}

  async send(records: OutgoingRecord[]): Promise<Delivery[]> {
    let settled: Delivery[] | undefined;
    let answered = false;
    void this.inner.send(records).then((deliveries) => {
      settled = deliveries;
      if (answered) this.lateFailures += deliveries.filter((d) => !d.ok).length;
    });
    await new Promise((resolve) => setImmediate(resolve));
    if (settled) return settled;
    answered = true;
    return records.map(() => ({ ok: true, partition: -1, offset: '-1' }));
  }

  ready(): Promise<boolean> {
    return this.inner.ready();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
