/**
 * A Kafka consumer-group member with a narrow contract: `connect(handler)`, `disconnect()`,
 * `health()`. Built on librdkafka through the KafkaJS-compatible API.
 *
 * Offset tracking (read slowly): librdkafka's automatic offset *store* is off. An offset is
 * stored only when the handler for its batch has returned, i.e. after every sink of this
 * consumer group wrote the batch (when batches are combined, after the combined call that
 * carried it: workers/group-commit.ts); the periodic auto-commit then commits only stored
 * offsets. When the handler throws, nothing is stored and the consumer seeks back to the
 * batch's first record, so the batch is delivered again (sinks are idempotent, so that is
 * safe). A crash between the sink writes and the commit therefore means redelivery, never loss.
 *
 * Rebalance: librdkafka commits stored offsets before partitions are revoked, so the next
 * owner starts after the last fully applied batch.
 */
import { createRequire } from 'node:module';
import type { KafkaJS as KafkaJSTypes } from '@confluentinc/kafka-javascript';
import type { Logger } from '../logger.ts';
import { type KafkaSecurity, kafkaSecurityProperties } from './security.ts';

const require = createRequire(import.meta.url);
const { KafkaJS } = require('@confluentinc/kafka-javascript') as { KafkaJS: typeof KafkaJSTypes };

export interface RawMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** Record headers as text (`ferry-tenant`, ...); the last value of a repeated header. */
  headers?: Record<string, string>;
  /** The record's Kafka timestamp in ms (CreateTime: when the gateway produced it). */
  timestamp?: number;
}

/** KafkaJS-style headers (Buffer, string or a list of them) as plain text. */
export function headersOf(h: Record<string, unknown> | undefined): Record<string, string> | undefined {
  if (!h) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    const last: unknown = Array.isArray(v) ? v[v.length - 1] : v;
    if (last !== undefined && last !== null) out[k] = Buffer.isBuffer(last) ? last.toString('utf8') : String(last);
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A KafkaJS-style timestamp (ms as text) as a number; undefined when the record has none. */
function timestampOf(t: string | undefined): number | undefined {
  const ms = Number(t);
  return t !== undefined && Number.isFinite(ms) ? ms : undefined;
}

/** Handles one batch from one partition, in offset order. Throw to have it redelivered. */
export type BatchHandler = (messages: RawMessage[]) => Promise<void>;

/** Per-batch observations, for metrics. */
export interface BatchObserver {
  /** Records of the partition not yet consumed after this batch (high watermark - next offset). */
  lag?: (topic: string, partition: number, lag: number) => void;
  /** Records handed to handlers and not finished yet; `delta` is +n at start, -n at the end. */
  inFlight?: (delta: number) => void;
}

export interface BatchConsumerOptions {
  brokers: string[];
  /** TLS and SASL towards the brokers (lib/kafka/security.ts). @defaultValue plaintext */
  security?: KafkaSecurity;
  groupId: string;
  topics: string[];
  logger: Logger;
  /** Most records handed to one handler call. @defaultValue 500 */
  maxBatchSize?: number;
  /** Partitions handled at the same time in this process. @defaultValue 12 (both topics' 6 partitions) */
  partitionsConcurrently?: number;
  /** How often stored offsets are committed. @defaultValue 1000 */
  commitIntervalMs?: number;
  /**
   * The broker answers a fetch once it has this many bytes or `fetchMaxWaitMs` passed: 1 answers
   * at once (lowest latency); a group nobody waits on can ask for more and fetch far less often.
   * @defaultValue 1
   */
  fetchMinBytes?: number;
  /** @defaultValue 500 (librdkafka's) */
  fetchMaxWaitMs?: number;
  /** How often the member heartbeats, which is how soon it joins a rebalance. @defaultValue 500 */
  heartbeatIntervalMs?: number;
  /** Pause before a failed batch is delivered again. @defaultValue 1000 */
  retryBackoffMs?: number;
  observer?: BatchObserver;
}

export interface ConsumerHealth {
  connected: boolean;
  /** Time since the last batch finished, or since connect. */
  idleMs: number;
  batches: number;
  failures: number;
}

/**
 * The KafkaJS layer's log lines, librdkafka's among them (a refused password or certificate, a
 * broker gone), as the worker's own JSON lines instead of the layer's console objects.
 */
function kafkaLogger(logger: Logger): KafkaJSTypes.Logger {
  const { logLevel } = KafkaJS;
  let level: number = logLevel.WARN;
  const line = (min: number, write: (fields: object, msg: string) => void) => (message: string, extra?: object) => {
    if (level < min) return;
    const { timestamp: _t, message: _m, ...fields } = (extra ?? {}) as Record<string, unknown>;
    write({ kafka: fields }, message);
  };
  const kafkaLogger: KafkaJSTypes.Logger = {
    error: line(logLevel.ERROR, (f, m) => logger.error(f, m)),
    warn: line(logLevel.WARN, (f, m) => logger.warn(f, m)),
    info: line(logLevel.INFO, (f, m) => logger.info(f, m)),
    debug: line(logLevel.DEBUG, (f, m) => logger.debug(f, m)),
    namespace: () => kafkaLogger,
    setLogLevel: (l: number) => {
      level = l;
    },
  };
  return kafkaLogger;
}

export class BatchConsumer {
  readonly #consumer: KafkaJSTypes.Consumer;
  #connected = false;
  #lastProgress = Date.now();
  #batches = 0;
  #failures = 0;
  #closing: Promise<void> | undefined;

  constructor(readonly options: BatchConsumerOptions) {
    const kafka = new KafkaJS.Kafka({ kafkaJS: { brokers: options.brokers, logLevel: KafkaJS.logLevel.WARN, logger: kafkaLogger(options.logger) } });
    this.#consumer = kafka.consumer({
      kafkaJS: {
        groupId: options.groupId,
        fromBeginning: true,
        autoCommit: true,
        autoCommitInterval: options.commitIntervalMs ?? 1000,
        partitionAssigners: [KafkaJS.PartitionAssigners.cooperativeSticky],
      },
      'js.consumer.max.batch.size': options.maxBatchSize ?? 500,
      // A member learns of a rebalance at its next heartbeat; with librdkafka's 3 s default a
      // cooperative rebalance (two rounds) holds the moved partitions for several seconds.
      'heartbeat.interval.ms': options.heartbeatIntervalMs ?? 500,
      // A member subscribed to topics that do not exist yet (a worker started before migrate)
      // joins them at its next metadata refresh: librdkafka's default is 5 minutes.
      'topic.metadata.refresh.interval.ms': 10_000,
      'fetch.min.bytes': options.fetchMinBytes ?? 1,
      'fetch.wait.max.ms': options.fetchMaxWaitMs ?? 500,
      'client.id': 'ferry-worker',
      ...kafkaSecurityProperties(options.security),
    });
  }

  async connect(handler: BatchHandler): Promise<void> {
    const { logger } = this.options;
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topics: this.options.topics });
    this.#connected = true;
    const backoff = this.options.retryBackoffMs ?? 1000;
    await this.#consumer.run({
      partitionsConsumedConcurrently: this.options.partitionsConcurrently ?? 12,
      // The batch's last offset is stored only after the handler returned.
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        const messages: RawMessage[] = batch.messages.map((m) => ({
          topic: batch.topic,
          partition: batch.partition,
          offset: m.offset,
          key: m.key ?? null,
          value: m.value ?? null,
          headers: headersOf(m.headers as Record<string, unknown> | undefined),
          timestamp: timestampOf(m.timestamp),
        }));
        const observer = this.options.observer;
        observer?.inFlight?.(messages.length);
        try {
          await handler(messages);
          const lag = Number(batch.offsetLag());
          if (Number.isFinite(lag)) observer?.lag?.(batch.topic, batch.partition, lag);
          this.#batches++;
          this.#lastProgress = Date.now();
        } catch (err) {
          this.#failures++;
          logger.warn(
            { topic: batch.topic, partition: batch.partition, firstOffset: batch.messages[0]?.offset, err: (err as Error).message },
            'batch failed; it will be delivered again',
          );
          await new Promise((r) => setTimeout(r, backoff));
          throw err;
        } finally {
          observer?.inFlight?.(-messages.length);
        }
      },
    });
  }

  health(): ConsumerHealth {
    return { connected: this.#connected, idleMs: Date.now() - this.#lastProgress, batches: this.#batches, failures: this.#failures };
  }

  /** Stops fetching, lets running batches finish, commits, and leaves the group. Idempotent. */
  disconnect(): Promise<void> {
    this.#closing ??= (async () => {
      this.#connected = false;
      await this.#consumer.disconnect();
    })();
    return this.#closing;
  }
}
