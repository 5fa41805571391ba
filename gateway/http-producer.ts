/**
 * An EventProducer for runtimes without librdkafka (Deno, edge): it forwards already
 * validated and Avro-encoded records to the producer service over HTTP, which produces them
 * and answers with one delivery per record once Kafka acknowledged it.
 */
import { toBase64, type WireDelivery, type WireRecord } from '../lib/kafka/producer-wire.ts';
import { type Delivery, DELIVERY_TIMEOUT_MS, type EventProducer, type OutgoingRecord, ProduceError } from '../lib/kafka/event-producer.ts';

export interface HttpProducerOptions {
  /** Base URL of the producer service, like `http://127.0.0.1:8090`. */
  url: string;
  /** Shared secret the producer service requires (sent as a bearer token). */
  token: string;
  /** Abort a forward after this long; the records then count as failed (retriable). @defaultValue 30000 (DELIVERY_TIMEOUT_MS) */
  timeoutMs?: number;
}

export class HttpProducer implements EventProducer {
  constructor(readonly options: HttpProducerOptions) {}

  async send(records: OutgoingRecord[]): Promise<Delivery[]> {
    const body = JSON.stringify({
      records: records.map((r): WireRecord => ({ topic: r.topic, key: r.key, value_base64: toBase64(r.value), ...(r.headers ? { headers: r.headers } : {}) })),
    });
    let res: Response;
    try {
      res = await fetch(new URL('/v1/records', this.options.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.options.token}` },
        body,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? DELIVERY_TIMEOUT_MS),
      });
    } catch (err) {
      return records.map(() => ({ ok: false, error: new ProduceError(`producer service unreachable: ${(err as Error).message}`, true) }));
    }
    if (!res.ok) {
      await res.body?.cancel();
      return records.map(() => ({ ok: false, error: new ProduceError(`producer service answered ${res.status}`, res.status >= 500) }));
    }
    const { deliveries } = (await res.json()) as { deliveries: WireDelivery[] };
    return deliveries.map((d) => (d.ok ? d : { ok: false as const, error: new ProduceError(d.error, d.retriable) }));
  }

  async ready(): Promise<boolean> {
    try {
      const res = await fetch(new URL('/readyz', this.options.url), { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      return res.ok;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {}
}
