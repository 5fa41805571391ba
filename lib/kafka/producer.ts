/**
 * The in-process librdkafka producer (Node only: the addon does not load in Deno).
 * Every send settles per record on its delivery report, which librdkafka raises only after
 * all in-sync replicas have the record (acks=all, idempotence on).
 */
import { createRequire } from 'node:module';
import type * as RdKafka from '@confluentinc/kafka-javascript';
import { type KafkaSecurity, kafkaSecurityProperties } from './security.ts';
import { type Delivery, DELIVERY_TIMEOUT_MS, type EventProducer, type OutgoingRecord, ProduceError } from './event-producer.ts';

const require = createRequire(import.meta.url);
const { Producer, CODES } = require('@confluentinc/kafka-javascript') as typeof RdKafka;

export interface KafkaProducerOptions {
  brokers: string[];
  /** TLS and SASL towards the brokers (lib/kafka/security.ts). @defaultValue plaintext */
  security?: KafkaSecurity;
  /** How long librdkafka waits to fill a batch. @defaultValue 1 */
  lingerMs?: number;
  /** none, gzip, snappy, lz4 or zstd. @defaultValue `lz4` */
  compression?: string;
  /** Records buffered in librdkafka before produce fails with "queue full" (then the gateway answers 503). @defaultValue 100000 */
  queueMaxMessages?: number;
  /**
   * Records produced and not yet acknowledged, at most. A send that would go over fails every
   * record up front (retriable, code BACKPRESSURE; the gateway answers 503 with Retry-After),
   * so a slow or absent Kafka fills neither memory nor librdkafka's queue.
   * @defaultValue 50000, and never more than queueMaxMessages
   */
  maxInFlight?: number;
  /** A record not acknowledged within this time fails. @defaultValue 30000 (DELIVERY_TIMEOUT_MS) */
  deliveryTimeoutMs?: number;
  /** How long connecting may take before it fails (the next send or connect tries again). @defaultValue 30000 */
  connectTimeoutMs?: number;
  /**
   * Where librdkafka's own warnings and errors go (syslog severity: 3 error, 4 warning); a
   * refused certificate or password, a broker that went away.
   * @defaultValue written to stderr as librdkafka prints them
   */
  onClientLog?: (severity: number, facility: string, message: string) => void;
  /** Extra librdkafka properties, applied last. */
  extra?: Record<string, string | number | boolean>;
}

/**
 * One send's waiting state: its deliveries fill in as reports arrive and the promise resolves
 * when the last one did. One of these per send instead of a promise per record: on the batch
 * path that was a visible share of the gateway's CPU.
 */
interface PendingSend {
  deliveries: Delivery[];
  remaining: number;
  resolve: (d: Delivery[]) => void;
}

function settle(send: PendingSend, index: number, d: Delivery): void {
  send.deliveries[index] = d;
  if (--send.remaining === 0) send.resolve(send.deliveries);
}

/**
 * Which send and which of its records a delivery report belongs to. The record's opaque is a
 * slot number into these arrays rather than an object per record: the binding keeps every
 * opaque in a persistent handle until the report, and a small integer there costs less than an
 * object (measured: ~0.5 µs per record). A slot is reused only after its report arrived (or its
 * produce call failed), so a report always finds its own record, whatever order they come in.
 */
class Slots {
  readonly #sends: (PendingSend | undefined)[] = [];
  readonly #indexes: number[] = [];
  readonly #free: number[] = [];

  take(send: PendingSend, index: number): number {
    const slot = this.#free.length > 0 ? this.#free.pop()! : this.#sends.length;
    this.#sends[slot] = send;
    this.#indexes[slot] = index;
    return slot;
  }

  /** Settles the slot's record and frees the slot; false when the slot holds nothing. */
  settle(slot: number, d: Delivery): boolean {
    const send = this.#sends[slot];
    if (send === undefined) return false;
    this.#sends[slot] = undefined;
    this.#free.push(slot);
    settle(send, this.#indexes[slot]!, d);
    return true;
  }
}

/**
 * The binding's header list: one single-key object per header. Built with keyed stores, not
 * `Object.entries().map(([k, v]) => ({ [k]: v }))`, whose computed-key literals cost about five
 * times as much (this runs for every request's records).
 */
function toMessageHeaders(headers: Record<string, string>): RdKafka.MessageHeader[] {
  const out: RdKafka.MessageHeader[] = [];
  for (const name in headers) {
    const header: RdKafka.MessageHeader = {};
    header[name] = headers[name]!;
    out.push(header);
  }
  return out;
}

export class KafkaProducer implements EventProducer {
  readonly #producer: RdKafka.Producer;
  #connected: Promise<void> | undefined;
  /** Set once connected (librdkafka reconnects by itself from then on): send skips awaiting #connected. */
  #up = false;
  #closing: Promise<void> | undefined;
  #inFlight = 0;
  readonly #maxInFlight: number;
  readonly #slots = new Slots();
  /** librdkafka's last client-level error: why a connect failed (TLS, SASL), which its own error does not say. */
  #lastError: string | undefined;

  constructor(readonly options: KafkaProducerOptions) {
    this.#maxInFlight = options.maxInFlight ?? Math.min(50_000, options.queueMaxMessages ?? 100_000);
    if (!(this.#maxInFlight > 0)) throw new Error('maxInFlight must be greater than 0');
    this.#producer = new Producer({
      'bootstrap.servers': options.brokers.join(','),
      'client.id': 'ferry-gateway',
      ...kafkaSecurityProperties(options.security),
      // Durability: a 2xx from the gateway means every in-sync replica has the record,
      // and retries inside librdkafka never duplicate or reorder it.
      acks: -1,
      'enable.idempotence': true,
      // Same key -> same partition as the Java client (murmur2), so other producers agree.
      partitioner: 'murmur2_random',
      'linger.ms': options.lingerMs ?? 1,
      'compression.codec': (options.compression ?? 'lz4') as 'lz4',
      'queue.buffering.max.messages': options.queueMaxMessages ?? 100_000,
      'delivery.timeout.ms': options.deliveryTimeoutMs ?? DELIVERY_TIMEOUT_MS,
      // How long a broker may hold a produce request waiting for the in-sync replicas (default
      // 30 s). librdkafka does not time out records of a request on the wire before it returns,
      // so this, not the delivery timeout alone, bounds a request when replicas are missing.
      'request.timeout.ms': Math.max(1000, Math.ceil((options.deliveryTimeoutMs ?? DELIVERY_TIMEOUT_MS) / 2)),
      dr_cb: true,
      // librdkafka's log lines reach 'event.log': a refused TLS handshake or SASL login is only
      // said there (connect itself fails with "broker transport failure").
      event_cb: true,
      ...options.extra,
    });
    this.#producer.on('delivery-report', (err, report) => {
      this.#inFlight--;
      const slot = (report as RdKafka.DeliveryReport & { opaque?: unknown }).opaque;
      if (typeof slot !== 'number') return;
      this.#slots.settle(
        slot,
        err
          ? { ok: false, error: new ProduceError(err.message, true, String(err.code)) }
          : { ok: true, partition: report.partition, offset: String(report.offset) },
      );
    });
    // Errors are reported per record through delivery reports; this keeps an emitted
    // 'event.error' from becoming an uncaught exception, and remembers the last one for connect.
    this.#producer.on('event.error', (err) => {
      this.#lastError = err.message;
    });
    const onClientLog = options.onClientLog ?? ((severity, facility, message) => process.stderr.write(`%${severity}|${facility}|${message}\n`));
    this.#producer.on('event.log', (log: { severity: number; fac: string; message: string }) => {
      if (log.severity > 4) return;
      if (log.severity <= 3) this.#lastError = log.message;
      onClientLog(log.severity, log.fac, log.message);
    });
  }

  connect(): Promise<void> {
    if (this.#connected) return this.#connected;
    const attempt = new Promise<void>((resolve, reject) => {
      this.#lastError = undefined;
      this.#producer.connect({ timeout: this.options.connectTimeoutMs ?? 30_000 }, (err) => {
        if (!err) return resolve();
        // "broker transport failure" alone hides a refused certificate or password.
        const why = this.#lastError && this.#lastError !== err.message ? ` (${this.#lastError})` : '';
        reject(new Error(`could not connect to Kafka: ${err.message}${why}`));
      });
    }).then(() => {
      // Delivery reports are polled on librdkafka's background thread and handed to the event
      // loop as they arrive: a JS poll timer would add up to its interval to every ack wait.
      this.#producer.setPollInBackground(true);
      this.#up = true;
    });
    // A failed first connect is forgotten, so a producer started while Kafka was away (the
    // dashboard's, which connects on its first replay) tries again instead of failing forever.
    // Once connected, librdkafka reconnects by itself.
    attempt.catch(() => {
      if (this.#connected === attempt) this.#connected = undefined;
    });
    this.#connected = attempt;
    return attempt;
  }

  /** Records handed to librdkafka and not yet acknowledged or failed. */
  get inFlight(): number {
    return this.#inFlight;
  }

  get maxInFlight(): number {
    return this.#maxInFlight;
  }

  send(records: OutgoingRecord[]): Promise<Delivery[]> {
    // Awaiting the settled connect would cost every send a promise and a turn of the microtask queue.
    return this.#up ? this.#send(records) : this.connect().then(() => this.#send(records));
  }

  #send(records: OutgoingRecord[]): Promise<Delivery[]> {
    if (this.#closing) return Promise.resolve(records.map(() => ({ ok: false, error: new ProduceError('gateway is shutting down', true) })));
    // Admission is per send, all or nothing: a batch is never split by the bound. The check and
    // the produce calls below run without an await in between, so concurrent sends cannot overshoot.
    if (this.#inFlight + records.length > this.#maxInFlight) {
      return Promise.resolve(records.map(() => ({
        ok: false,
        error: new ProduceError('the gateway has too many records waiting for Kafka; retry shortly', true, 'BACKPRESSURE'),
      })));
    }
    if (records.length === 0) return Promise.resolve([]);
    return new Promise<Delivery[]>((resolve) => {
      const send: PendingSend = { deliveries: new Array<Delivery>(records.length), remaining: records.length, resolve };
      // Records of one request usually share one headers object: convert it once.
      let lastHeaders: Record<string, string> | undefined;
      let converted: RdKafka.MessageHeader[] | undefined;
      // The records of one send share their Kafka timestamp: the time the gateway took them.
      const timestamp = Date.now();
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!;
        if (r.headers !== lastHeaders) {
          lastHeaders = r.headers;
          converted = r.headers ? toMessageHeaders(r.headers) : undefined;
        }
        const value = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
        const slot = this.#slots.take(send, i);
        try {
          this.#producer.produce(r.topic, null, value, r.key, timestamp, slot, converted);
          this.#inFlight++;
        } catch (err) {
          // No report will come for this record: settle it here, which frees its slot.
          const e = err as { code?: number; message?: string };
          const full = e.code === CODES.ERRORS.ERR__QUEUE_FULL;
          this.#slots.settle(slot, {
            ok: false,
            error: new ProduceError(full ? 'producer queue is full' : (e.message ?? 'produce failed'), true, full ? 'QUEUE_FULL' : String(e.code)),
          });
        }
      }
    });
  }

  ready(): Promise<boolean> {
    return new Promise((resolve) => {
      if (!this.#connected) return resolve(false);
      this.#producer.getMetadata({ timeout: 2000 }, (err) => resolve(!err));
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (!this.#connected) return;
      await this.#connected.catch(() => {});
      await new Promise<void>((resolve) => this.#producer.flush(10_000, () => resolve()));
      await new Promise<void>((resolve) => this.#producer.disconnect(() => resolve()));
    })();
    return this.#closing;
  }
}
