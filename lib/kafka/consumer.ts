/**
 * A Kafka consumer-group member with a narrow contract: `connect(handler)`, `disconnect()`,
 * `health()`. Built on the binding's node-rdkafka-style KafkaConsumer (librdkafka with little
 * JavaScript on top): one loop calls consume() (consumePacked() where Ferry's patch to the addon
 * is built: one Buffer per call, lib/kafka/packed-messages.ts), records are buffered per
 * partition, and each partition's records go to the handler in batches, in offset order, one
 * call at a time.
 *
 * Offset tracking (read slowly): librdkafka's automatic offset *store* is off. An offset (the
 * batch's last + 1) is stored only when the handler for its batch has returned, i.e. after every
 * sink of this consumer group wrote the batch (when batches are combined, after the combined call
 * that carried it: workers/group-commit.ts); the periodic auto-commit then commits only stored
 * offsets. When the handler throws, nothing is stored and the same batch is handed over again
 * after `retryBackoffMs`, from memory, before any later record of its partition (sinks are
 * idempotent, so that is safe). Redelivering from memory instead of seeking back means no race
 * with the records of that partition librdkafka already fetched, and no second fetch. A crash
 * between the sink writes and the commit therefore means redelivery, never loss.
 *
 * Memory: the loop fetches only while the records buffered for partitions that are not paused
 * stay under `maxBufferedRecords`; under that bound librdkafka's own queue holds the rest. A
 * partition whose batch failed is paused until the batch goes through (librdkafka drops what it
 * had prefetched for it and, on resume, fetches again from after the last record this consumer
 * took), so a held partition stops growing while the others keep flowing. Healthy partitions are
 * never paused for memory: that would throw away librdkafka's prefetch and fetch it again.
 * consume() is still called while the bound is reached (one record at a time, every
 * POLL_INTERVAL_MS), so the member keeps within max.poll.interval.ms and serves rebalances.
 *
 * Rebalance (cooperative-sticky, read slowly): on revoke, the revoked partitions' buffered records
 * are dropped, their running batches finish and store their offsets, a commit of those offsets is
 * handed to librdkafka, and only then are the partitions unassigned, so the next owner starts
 * after the last applied batch. The commit is not awaited to the broker's answer (the binding's
 * commitCb answers once librdkafka has it queued, ahead of the unassign); if it is lost, the next
 * owner starts from an earlier commit and delivers those batches again, which the sinks fold:
 * redelivery, never loss. A lost assignment (the member was thrown out of the group) is unassigned at
 * once and stores nothing more: those partitions may already be another member's.
 *
 * Stalls: librdkafka can stop fetching an assigned partition without saying so. A
 * partition silent for `stallAfterMs` while librdkafka's queue ran empty is checked against the
 * broker's high watermark; when records wait there at two checks in a row, it is resumed and
 * sought to the next record this member expects (lib/kafka/stall-watch.ts), and the member logs
 * it and counts it in health().
 */
import { createRequire } from 'node:module';
import type * as RdKafka from '@confluentinc/kafka-javascript';
import type { Logger } from '../logger.ts';
import { PartitionBuffer } from './partition-buffer.ts';
import { fetchedOf, type FetchedRecord, type RawMessage, rawMessageOf } from './raw-message.ts';
import { unpackMessages } from './packed-messages.ts';
import { judge, probeDue } from './stall-watch.ts';
import { type KafkaSecurity, kafkaSecurityProperties } from './security.ts';

export type { RawMessage } from './raw-message.ts';

const require = createRequire(import.meta.url);
const { KafkaConsumer, CODES } = require('@confluentinc/kafka-javascript') as typeof RdKafka;

/** The binding's consumer with the methods its type declarations leave out. */
type Client = RdKafka.KafkaConsumer & {
  incrementalAssign(partitions: RdKafka.TopicPartition[]): void;
  incrementalUnassign(partitions: RdKafka.TopicPartition[]): void;
  assignmentLost(): boolean;
  rebalanceProtocol(): 'NONE' | 'COOPERATIVE' | 'EAGER';
  commitCb(offsets: RdKafka.TopicPartitionOffset[] | null, cb: (err: RdKafka.LibrdKafkaError | null) => void): void;
  /** The native handle; `consumePacked` only where the binding was built with Ferry's patch (lib/kafka/packed-messages.ts). */
  _client: {
    consumePacked?: (timeoutMs: number, n: number, cb: (err: { message: string; code: number } | null, packed: Buffer, topics: string[]) => void) => void;
  };
};

/**
 * How long the loop waits for librdkafka to say its queue has records before polling anyway, and
 * how often it polls while the buffer is full (rebalances are served from inside consume()).
 */
const POLL_INTERVAL_MS = 500;

/** Handles one batch from one partition, in offset order. Throw to have it redelivered. */
export type BatchHandler = (messages: RawMessage[]) => Promise<void>;

/** Per-batch observations, for metrics. */
export interface BatchObserver {
  /** Records of the partition not yet consumed after this batch (high watermark - next offset). */
  lag?: (topic: string, partition: number, lag: number) => void;
  /** Records handed to handlers and not finished yet; `delta` is +n at start, -n at the end. */
  inFlight?: (delta: number) => void;
  /** A partition librdkafka had stopped fetching was found and restarted (lib/kafka/stall-watch.ts). */
  stall?: (topic: string, partition: number) => void;
  /**
   * Partitions were assigned to this member, before any of their records is handed out. Their
   * previous owner finished its batches of them before it gave them up.
   */
  assigned?: (partitions: { topic: string; partition: number }[]) => void;
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
  /**
   * Records fetched and not yet handed to a handler, over the partitions that are not paused;
   * at this many the member stops taking records from librdkafka until handlers catch up.
   * @defaultValue 2 × maxBatchSize × partitionsConcurrently
   */
  maxBufferedRecords?: number;
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
  /**
   * A partition that got no record for this long, while librdkafka's queue ran empty, is probed:
   * when the broker holds records for it at two probes in a row, librdkafka stopped fetching it
   * and the member restarts the fetch (lib/kafka/stall-watch.ts). At least 3 × `fetchMaxWaitMs`,
   * so a fetch the broker holds back is never taken for a stall. 0 turns this off.
   * @defaultValue 10000
   */
  stallAfterMs?: number;
  /**
   * Take records through the binding's `consumePacked()` (one Buffer per consume call) when the
   * binding has it; false, or a stock binding, uses its consume() (an object per record).
   * @defaultValue true
   */
  packed?: boolean;
  observer?: BatchObserver;
}

export interface ConsumerHealth {
  connected: boolean;
  /** Time since the last batch finished, or since connect. */
  idleMs: number;
  batches: number;
  failures: number;
  /** Partitions found stalled in librdkafka and restarted (lib/kafka/stall-watch.ts). */
  stalls: number;
}

/** What BatchConsumer.state() reports. */
export interface ConsumerState {
  partitions: {
    partition: string;
    buffered: number;
    running: boolean;
    queued: boolean;
    paused: boolean;
    stored: number | undefined;
    /** librdkafka's position (the offset after the last record it handed over), -1001 before one. */
    position: number | undefined;
    /** The high watermark of librdkafka's last fetch, -1001 before one. */
    high: number | undefined;
  }[];
  /** librdkafka's assignment, `topic[partition]`. */
  assigned: string[];
  /** Handler calls running. */
  running: number;
  /** Partitions waiting for a handler slot. */
  ready: number;
  /** Batches of revoked partitions still running. */
  retiring: number;
  /** The loop waits for handlers to make room in the buffer. */
  gated: boolean;
}

/** This member's view of one assigned partition. */
interface Partition {
  readonly topic: string;
  readonly partition: number;
  readonly buffer: PartitionBuffer<FetchedRecord>;
  /** False once revoked or closing: nothing more is handed out, a failed batch is not retried. */
  accepting: boolean;
  /** Still in librdkafka's assignment, so offsets may be stored for it. */
  owned: boolean;
  /** The batch handed to the handler (retries included) until it went through or was given up. */
  task: Promise<void> | undefined;
  /** Ends a retry backoff early (revocation, disconnect). */
  abort: (() => void) | undefined;
  /** Paused in librdkafka because its batch failed. */
  paused: boolean;
  /** In the queue of partitions waiting for a handler slot. */
  queued: boolean;
  /** The last offset stored, for the commit before a revocation. */
  stored: RdKafka.TopicPartitionOffset | undefined;
  /** When librdkafka last handed over one of its records (or it was assigned): the stall watch. */
  lastRecordAt: number;
  /** When the stall watch last asked the broker about it; NaN while it asks. */
  probedAt: number;
  /** The offset the stall watch last restarted it at; -1 before. */
  healedAt: number;
  /** The offset at which the last probe found records waiting; -1 when it found none. */
  suspectAt: number;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class BatchConsumer {
  readonly #client: Client;
  readonly #logger: Logger;
  readonly #maxBatchSize: number;
  readonly #concurrency: number;
  readonly #maxBuffered: number;
  readonly #retryBackoffMs: number;
  readonly #packed: boolean;
  readonly #stallAfterMs: number;
  /** The last time consume() returned fewer records than asked: librdkafka's queue ran empty. */
  #drainedAt = 0;
  #stallWatch: ReturnType<typeof setInterval> | undefined;
  #stalls = 0;
  /** Assigned partitions by topic, then partition number (no key string per record). */
  readonly #partitions = new Map<string, Map<number, Partition>>();
  /** Batches of revoked partitions still running; a partition assigned again waits for its old batch. */
  readonly #retiring = new Map<Partition, Promise<void>>();
  /** Partitions with buffered records waiting for a handler slot, oldest first. */
  #ready: Partition[] = [];
  #running = 0;
  #handler: BatchHandler | undefined;
  #loop: Promise<void> | undefined;
  #connecting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #stopping = false;
  /** Rebalance events, handled one after the other. */
  #rebalances: Promise<void> = Promise.resolve();
  /** Counts wake-ups, so one that came while consume() ran is not slept through. */
  #wakes = 0;
  #wakeSleeper: (() => void) | undefined;
  /** The loop waits because the buffer bound is reached: handing records out should wake it. */
  #gated = false;
  #lastPoll = 0;
  #connected = false;
  #lastProgress = Date.now();
  #batches = 0;
  #failures = 0;

  constructor(readonly options: BatchConsumerOptions) {
    this.#logger = options.logger;
    this.#maxBatchSize = options.maxBatchSize ?? 500;
    this.#concurrency = options.partitionsConcurrently ?? 12;
    // Two batches per partition: librdkafka's queue hands a backlog over largely one partition
    // after another, and a smaller bound leaves fewer partitions' batches to combine (analytics
    // inserts of ~2 000 rows instead of ~6 000: less worker CPU, more ClickHouse CPU per row).
    this.#maxBuffered = options.maxBufferedRecords ?? 2 * this.#maxBatchSize * this.#concurrency;
    this.#retryBackoffMs = options.retryBackoffMs ?? 1000;
    const stallAfterMs = options.stallAfterMs ?? 10_000;
    this.#stallAfterMs = stallAfterMs > 0 ? Math.max(stallAfterMs, 3 * (options.fetchMaxWaitMs ?? 500)) : 0;
    const config: RdKafka.ConsumerGlobalConfig & RdKafka.ConsumerTopicConfig & { queue_non_empty_cb: () => void } = {
      'bootstrap.servers': options.brokers.join(','),
      'group.id': options.groupId,
      'client.id': 'ferry-worker',
      'partition.assignment.strategy': 'cooperative-sticky',
      // A member that died is noticed (and its partitions moved) within 30 s; librdkafka's default is 45.
      'session.timeout.ms': 30_000,
      // Stored only after the handler returned (above); committed every commitIntervalMs.
      'enable.auto.offset.store': false,
      'enable.auto.commit': true,
      'auto.commit.interval.ms': options.commitIntervalMs ?? 1000,
      'auto.offset.reset': 'earliest',
      // A member learns of a rebalance at its next heartbeat; with librdkafka's 3 s default a
      // cooperative rebalance (two rounds) holds the moved partitions for several seconds.
      'heartbeat.interval.ms': options.heartbeatIntervalMs ?? 500,
      // A member subscribed to topics that do not exist yet (a worker started before migrate)
      // joins them at its next metadata refresh: librdkafka's default is 5 minutes.
      'topic.metadata.refresh.interval.ms': 10_000,
      'fetch.min.bytes': options.fetchMinBytes ?? 1,
      'fetch.wait.max.ms': options.fetchMaxWaitMs ?? 500,
      // librdkafka's warnings and errors (a refused password or certificate, a broker gone)
      // reach 'event.log' and become the worker's own log lines; no `debug` contexts.
      event_cb: true,
      log_level: 4,
      rebalance_cb: (err: RdKafka.LibrdKafkaError | undefined, assignment: RdKafka.TopicPartition[]) => this.#onRebalance(err, assignment),
      offset_commit_cb: (err: RdKafka.LibrdKafkaError | undefined) => {
        if (err && err.code !== CODES.ERRORS.ERR__NO_OFFSET) {
          this.#logger.warn({ err: err.message }, 'offset commit failed; the next one carries the same offsets');
        }
      },
      // The binding calls this when librdkafka's queue goes from empty to not empty (the
      // KafkaJS layer of the same package waits on it the same way): the loop sleeps until then
      // instead of blocking a libuv thread in consume() or polling on a timer.
      queue_non_empty_cb: () => this.#wake(),
      ...kafkaSecurityProperties(options.security),
    };
    this.#client = new KafkaConsumer(config) as Client;
    this.#packed = options.packed !== false && typeof this.#client._client.consumePacked === 'function';
    this.#client.on('event.log', (log: { severity: number; fac: string; message: string; name?: string }) => {
      if (log.severity > 4) return;
      const fields = { kafka: { fac: log.fac, name: log.name } };
      if (log.severity <= 3) this.#logger.error(fields, log.message);
      else this.#logger.warn(fields, log.message);
    });
    // Without a listener an emitted error would end the process; librdkafka recovers by itself.
    this.#client.on('event.error', (err) => this.#logger.error({ kafka: { code: err.code } }, `Error: ${err.message}`));
    (this.#client as unknown as NodeJS.EventEmitter).on('error', (err: Error) => this.#logger.error({ err: err.message }, 'kafka client error'));
  }

  async connect(handler: BatchHandler): Promise<void> {
    if (this.#handler || this.#closing) throw new Error('connect() is called once, before disconnect()');
    this.#handler = handler;
    this.#connecting = new Promise<void>((resolve, reject) => {
      this.#client.connect({}, (err) => (err ? reject(new Error(`could not connect to Kafka: ${err.message}`)) : resolve()));
    });
    await this.#connecting;
    if (this.#stopping) return;
    // consume() takes what librdkafka already has and returns at once; the loop waits for
    // queue_non_empty_cb instead.
    this.#client.setDefaultConsumeTimeout(0);
    this.#client.subscribe(this.options.topics);
    this.#connected = true;
    this.#lastProgress = Date.now();
    this.#loop = this.#poll();
    if (this.#stallAfterMs > 0) {
      this.#stallWatch = setInterval(() => this.#watchStalls(), Math.max(100, this.#stallAfterMs / 4));
      this.#stallWatch.unref();
    }
  }

  /**
   * The binding's consumer under `c`: for tests that put librdkafka in a state this class never
   * asks for (a partition paused behind its back, which stops its fetches as a stall does).
   */
  static bindingOf(c: BatchConsumer): RdKafka.KafkaConsumer {
    return c.#client;
  }

  health(): ConsumerHealth {
    return {
      connected: this.#connected,
      idleMs: Date.now() - this.#lastProgress,
      batches: this.#batches,
      failures: this.#failures,
      stalls: this.#stalls,
    };
  }

  /**
   * This member's partitions as it sees them, next to librdkafka's assignment: what to read when
   * a partition does not move (a difference between the two is a bug here).
   */
  state(): ConsumerState {
    let assigned: string[] = [];
    const positions = new Map<string, number>();
    try {
      if (this.#connected) {
        assigned = this.#client.assignments().map((tp) => `${tp.topic}[${tp.partition}]`);
        for (const tp of this.#client.position()) positions.set(`${tp.topic}[${tp.partition}]`, tp.offset);
      }
    } catch {
      // Not connected any more.
    }
    return {
      partitions: this.#each().map((p) => ({
        partition: `${p.topic}[${p.partition}]`,
        buffered: p.buffer.size,
        running: p.task !== undefined,
        queued: p.queued,
        paused: p.paused,
        stored: p.stored?.offset,
        position: positions.get(`${p.topic}[${p.partition}]`),
        high: this.#connected ? this.#fetchedHigh(p) : undefined,
      })),
      assigned,
      running: this.#running,
      ready: this.#ready.length,
      retiring: this.#retiring.size,
      gated: this.#gated,
    };
  }

  /** Stops fetching, lets running batches finish, commits, and leaves the group. Idempotent. */
  disconnect(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    clearInterval(this.#stallWatch);
    this.#connected = false;
    this.#stopping = true;
    this.#wake();
    const connected = await this.#connecting?.then(() => true, () => false);
    await this.#loop;
    const tasks: Promise<void>[] = [...this.#retiring.values()];
    for (const p of this.#each()) {
      p.accepting = false;
      p.buffer.clear();
      p.abort?.();
      if (p.task) tasks.push(p.task);
    }
    this.#ready = [];
    await Promise.all(tasks);
    await this.#rebalances;
    if (!connected) return;
    // What the running batches stored; librdkafka would commit it while closing too, but this
    // way a failure is said here.
    await this.#commit(null).catch((err) => this.#logger.warn({ err: describe(err) }, 'final offset commit failed'));
    // close(): revokes everything through the rebalance callback (which now unassigns at
    // once), commits what is stored, and leaves the group.
    await new Promise<void>((resolve) => this.#client.disconnect(() => resolve()));
  }

  #each(): Partition[] {
    const all: Partition[] = [];
    for (const byPartition of this.#partitions.values()) for (const p of byPartition.values()) all.push(p);
    return all;
  }

  #wake(): void {
    this.#wakes++;
    const sleeper = this.#wakeSleeper;
    this.#wakeSleeper = undefined;
    sleeper?.();
  }

  /** Resolves after `ms` or at the next wake-up, whichever is first. */
  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#wakeSleeper = undefined;
        resolve();
      }, ms);
      this.#wakeSleeper = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** True when records come through the binding's consumePacked() (see `packed` in the options). */
  get packed(): boolean {
    return this.#packed;
  }

  #consume(n: number): Promise<FetchedRecord[]> {
    if (!this.#packed) {
      return new Promise((resolve, reject) =>
        this.#client.consume(n, (err, messages) => {
          if (err) return reject(err);
          const out = new Array<FetchedRecord>(messages.length);
          for (let i = 0; i < messages.length; i++) out[i] = fetchedOf(messages[i]!);
          resolve(out);
        })
      );
    }
    return new Promise((resolve, reject) =>
      this.#client._client.consumePacked!(0, n, (err, packed, topics) => {
        if (err) return reject(Object.assign(new Error(err.message), { code: err.code }));
        let records: FetchedRecord[];
        try {
          records = unpackMessages(packed, topics);
        } catch (layoutErr) {
          // librdkafka has handed these records over, so a later record of the same partition
          // would be buffered past them. Only a restart (from the committed offsets, which are
          // never past an unhandled record) gets them back: end the process instead of going on.
          this.#logger.fatal({ err: describe(layoutErr) }, 'packed records from the binding do not read; exiting');
          process.nextTick(() => {
            throw layoutErr;
          });
          return;
        }
        resolve(records);
      })
    );
  }

  /** Records buffered for partitions that are not paused: what bounds fetching. */
  #buffered(): number {
    let n = 0;
    for (const byPartition of this.#partitions.values()) for (const p of byPartition.values()) if (!p.paused) n += p.buffer.size;
    return n;
  }

  /** The consume loop. It never throws: an error from consume() is logged and polling goes on. */
  async #poll(): Promise<void> {
    while (!this.#stopping) {
      try {
        await this.#pollOnce();
      } catch (err) {
        this.#logger.error({ err: describe(err) }, 'consume loop failed; polling again');
        await this.#sleep(POLL_INTERVAL_MS);
      }
    }
  }

  async #pollOnce(): Promise<void> {
    const room = this.#maxBuffered - this.#buffered();
    const sincePoll = Date.now() - this.#lastPoll;
    if (room <= 0 && sincePoll < POLL_INTERVAL_MS) {
      this.#gated = true;
      await this.#sleep(POLL_INTERVAL_MS - sincePoll);
      this.#gated = false;
      return;
    }
    // With the buffer full, one record: enough to serve a rebalance and count as a poll.
    const want = room > 0 ? Math.min(room, this.#maxBatchSize * this.#concurrency) : 1;
    const wakes = this.#wakes;
    let messages: FetchedRecord[];
    try {
      messages = await this.#consume(want);
    } catch (err) {
      this.#lastPoll = Date.now();
      if (this.#stopping) return;
      this.#logger.warn({ err: describe(err), code: (err as RdKafka.LibrdKafkaError).code }, 'consume failed; polling again');
      await this.#sleep(POLL_INTERVAL_MS);
      return;
    }
    this.#lastPoll = Date.now();
    if (messages.length < want) this.#drainedAt = this.#lastPoll;
    // Fewer than asked: librdkafka's queue is empty, and its callback wakes the loop when it
    // is not. A wake-up during consume() may have been for records consume() did not see.
    const drained = messages.length < want && wakes === this.#wakes;
    if (messages.length > 0) this.#receive(messages);
    if (drained && !this.#stopping) await this.#sleep(POLL_INTERVAL_MS);
  }

  /** Buffers fetched records by partition and hands out what slots allow. */
  #receive(messages: FetchedRecord[]): void {
    let p: Partition | undefined;
    const now = Date.now();
    for (const m of messages) {
      if (p === undefined || p.partition !== m.partition || p.topic !== m.topic) p = this.#partitions.get(m.topic)?.get(m.partition);
      // Records of a partition no longer (or not yet) this member's are not handed out.
      if (p === undefined || !p.accepting) continue;
      p.lastRecordAt = now;
      if (p.buffer.push(m) && !p.queued && p.task === undefined) {
        p.queued = true;
        this.#ready.push(p);
      }
    }
    this.#dispatch();
  }

  /**
   * Starts batches for waiting partitions while slots are free, all in this turn of the event
   * loop, so GroupCommit can combine them.
   */
  #dispatch(): void {
    let started = false;
    while (this.#running < this.#concurrency && this.#ready.length > 0) {
      const p = this.#ready.shift()!;
      p.queued = false;
      if (!p.accepting || p.task !== undefined || p.buffer.size === 0) continue;
      const records = p.buffer.take(this.#maxBatchSize);
      const last = records[records.length - 1]!;
      const batch = new Array<RawMessage>(records.length);
      for (let i = 0; i < records.length; i++) batch[i] = rawMessageOf(records[i]!);
      this.#running++;
      p.task = this.#deliver(p, batch, { topic: p.topic, partition: p.partition, offset: last.offset + 1, leaderEpoch: last.leaderEpoch })
        .catch((err) => this.#logger.error({ topic: p.topic, partition: p.partition, err: describe(err) }, 'batch delivery failed'));
      started = true;
    }
    if (started) this.#roomMade();
  }

  /** Records left the buffer bound: a loop waiting for room may fetch again. */
  #roomMade(): void {
    if (this.#gated) this.#wake();
  }

  /** Hands `batch` to the handler until it goes through, then stores `next`. */
  async #deliver(p: Partition, batch: RawMessage[], next: RdKafka.TopicPartitionOffset): Promise<void> {
    const observer = this.options.observer;
    observer?.inFlight?.(batch.length);
    let done = false;
    try {
      for (;;) {
        try {
          await this.#handler!(batch);
          done = true;
          break;
        } catch (err) {
          this.#failures++;
          this.#logger.warn(
            { topic: p.topic, partition: p.partition, firstOffset: batch[0]?.offset, err: describe(err) },
            'batch failed; it will be delivered again',
          );
          if (!p.accepting) break; // revoked or closing: the next owner (or start) redelivers it
          this.#pause(p);
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, this.#retryBackoffMs);
            p.abort = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          p.abort = undefined;
          if (!p.accepting) break;
        }
      }
      if (done) {
        // Subtle: stored only while the partition is still assigned here. After a lost
        // assignment it may be another member's, which starts from what was committed.
        if (p.owned) {
          try {
            this.#client.offsetsStore([next]);
            p.stored = next;
          } catch (err) {
            this.#logger.warn({ topic: p.topic, partition: p.partition, err: describe(err) }, 'could not store an offset; the batch may be delivered again');
          }
        }
        this.#batches++;
        this.#lastProgress = Date.now();
        if (observer?.lag) this.#observeLag(p, next.offset);
      }
    } finally {
      observer?.inFlight?.(-batch.length);
      this.#running--;
      p.task = undefined;
      if (p.accepting) {
        if (p.paused) this.#resume(p);
        if (p.buffer.size > 0 && !p.queued) {
          p.queued = true;
          this.#ready.push(p);
        }
      }
      this.#dispatch();
    }
  }

  /**
   * The stall watch (lib/kafka/stall-watch.ts), every quarter of `stallAfterMs`. Read slowly: it
   * only looks at partitions with nothing buffered, nothing running and no pause of this
   * member's, so a partition held back on purpose is never taken for a stalled one.
   */
  #watchStalls(): void {
    if (this.#stopping) return;
    const now = Date.now();
    for (const p of this.#each()) {
      if (!this.#waitsOnLibrdkafka(p) || Number.isNaN(p.probedAt)) continue;
      if (probeDue(p, this.#drainedAt, now, this.#stallAfterMs)) void this.#probe(p);
    }
  }

  /** Owned, not paused by this member, and nothing of it buffered or running: only librdkafka can move it on. */
  #waitsOnLibrdkafka(p: Partition): boolean {
    return !this.#stopping && p.owned && p.accepting && !p.paused && p.task === undefined && p.buffer.size === 0;
  }

  /** Asks the broker whether records wait for `p`; when they do, restarts librdkafka's fetch of it. */
  async #probe(p: Partition): Promise<void> {
    p.probedAt = NaN;
    const tp = { topic: p.topic, partition: p.partition };
    try {
      const { lowOffset, highOffset } = await new Promise<RdKafka.WatermarkOffsets>((resolve, reject) =>
        this.#client.queryWatermarkOffsets(p.topic, p.partition, 5_000, (err, offsets) => (err ? reject(err) : resolve(offsets)))
      );
      let next = p.buffer.next;
      if (next < 0 && highOffset <= lowOffset) return; // an empty partition
      if (next < 0) {
        // Nothing handed over yet: librdkafka starts at the group's committed offset, or at the
        // earliest record when there is none (auto.offset.reset).
        const [committed] = await new Promise<RdKafka.TopicPartitionOffset[]>((resolve, reject) =>
          this.#client.committed([tp], 5_000, (err, tps) => (err ? reject(err) : resolve(tps)))
        );
        next = committed !== undefined && committed.offset >= 0 ? committed.offset : lowOffset;
      }
      // Only if nothing changed while the broker answered.
      if (!this.#waitsOnLibrdkafka(p) || Date.now() - p.lastRecordAt < this.#stallAfterMs) return;
      // Subtle: records that reached the broker just now may sit in a fetch it holds back; only
      // records still waiting at the same offset a probe later make a stall (judge()).
      const verdict = judge(next, highOffset, p);
      p.suspectAt = verdict === 'suspect' ? next : -1;
      if (verdict !== 'stalled') return;
      this.#stalls++;
      this.options.observer?.stall?.(p.topic, p.partition);
      this.#logger.warn(
        { topic: p.topic, partition: p.partition, next, high: highOffset, idleMs: Date.now() - p.lastRecordAt },
        'librdkafka stopped fetching a partition that has records; resuming it and seeking it to the next record',
      );
      // resume() clears a pause librdkafka kept for this member (it keeps pauses across an
      // unassign); the seek restarts a fetcher that stopped for any other reason. Records
      // before `next` that come again are dropped by the partition's buffer.
      this.#client.resume([tp]);
      this.#client.seek({ ...tp, offset: next }, 0, (err) => {
        if (err) this.#logger.warn({ topic: p.topic, partition: p.partition, err: err.message }, 'could not seek a stalled partition');
      });
      p.lastRecordAt = Date.now();
      p.healedAt = next;
    } catch (err) {
      if (!this.#stopping) {
        this.#logger.warn({ topic: p.topic, partition: p.partition, err: describe(err) }, 'could not ask the broker about a silent partition');
      }
    } finally {
      p.probedAt = Date.now();
    }
  }

  /** The high watermark librdkafka keeps from its fetches (no broker request); undefined when it has none to give. */
  #fetchedHigh(p: Partition): number | undefined {
    try {
      return this.#client.getWatermarkOffsets(p.topic, p.partition).highOffset;
    } catch {
      return undefined;
    }
  }

  /** Lag from the high watermark librdkafka keeps from its fetches. */
  #observeLag(p: Partition, nextOffset: number): void {
    const high = this.#fetchedHigh(p);
    if (high !== undefined && high >= 0) this.options.observer!.lag!(p.topic, p.partition, Math.max(0, high - nextOffset));
  }

  #pause(p: Partition): void {
    if (p.paused || !p.owned) return;
    try {
      this.#client.pause([{ topic: p.topic, partition: p.partition }]);
      p.paused = true;
    } catch (err) {
      this.#logger.warn({ topic: p.topic, partition: p.partition, err: describe(err) }, 'could not pause a partition');
    }
  }

  /**
   * Subtle: librdkafka keeps a partition's pause across an unassign, so a partition assigned
   * here again later would never be fetched; revocation resumes it first.
   */
  #resume(p: Partition): void {
    if (!p.paused) return;
    p.paused = false;
    try {
      this.#client.resume([{ topic: p.topic, partition: p.partition }]);
    } catch (err) {
      this.#logger.warn({ topic: p.topic, partition: p.partition, err: describe(err) }, 'could not resume a partition');
    }
  }

  #commit(offsets: RdKafka.TopicPartitionOffset[] | null): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      try {
        this.#client.commitCb(offsets, (err) => (err && err.code !== CODES.ERRORS.ERR__NO_OFFSET ? reject(err) : resolve()));
      } catch (err) {
        if ((err as RdKafka.LibrdKafkaError).code === CODES.ERRORS.ERR__NO_OFFSET) resolve();
        else reject(err);
      }
    });
  }

  /**
   * librdkafka's rebalance callback. It reaches JavaScript after the consume() call that served
   * it, and librdkafka waits (fetching nothing for the group) until the partitions are assigned
   * or unassigned, so revocation may take as long as the running batches.
   */
  #onRebalance(err: RdKafka.LibrdKafkaError | undefined, assignment: RdKafka.TopicPartition[]): void {
    const code = err?.code;
    // Only meaningful inside the callback, before the unassign; not asked while closing (the
    // binding does not check that its handle still exists).
    let lost = false;
    try {
      lost = code !== CODES.ERRORS.ERR__ASSIGN_PARTITIONS && !this.#stopping && this.#client.assignmentLost();
    } catch (e) {
      this.#logger.warn({ err: describe(e) }, 'could not tell whether the assignment was lost');
    }
    this.#rebalances = this.#rebalances.then(async () => {
      try {
        if (code === CODES.ERRORS.ERR__ASSIGN_PARTITIONS) this.#assign(assignment);
        else {
          if (code !== CODES.ERRORS.ERR__REVOKE_PARTITIONS) this.#logger.error({ err: err?.message }, 'rebalance failed; giving up the partitions');
          await this.#revoke(assignment, lost || code !== CODES.ERRORS.ERR__REVOKE_PARTITIONS);
        }
      } catch (e) {
        this.#logger.error({ err: describe(e) }, 'rebalance handling failed');
      }
    });
  }

  #assign(assignment: RdKafka.TopicPartition[]): void {
    for (const { topic, partition } of assignment) {
      let byPartition = this.#partitions.get(topic);
      if (!byPartition) this.#partitions.set(topic, byPartition = new Map());
      if (byPartition.get(partition)?.accepting) continue; // already this member's
      const p: Partition = {
        topic,
        partition,
        buffer: new PartitionBuffer<FetchedRecord>(),
        accepting: true,
        owned: true,
        task: undefined,
        abort: undefined,
        paused: false,
        queued: false,
        stored: undefined,
        lastRecordAt: Date.now(),
        probedAt: -Infinity,
        healedAt: -1,
        suspectAt: -1,
      };
      // A batch of this partition from its previous assignment (lost, still running) finishes
      // first: two handler calls of one partition never overlap.
      const previous = [...this.#retiring].find(([old]) => old.topic === topic && old.partition === partition)?.[1];
      if (previous) {
        p.task = previous.then(() => {
          p.task = undefined;
          if (p.accepting && p.buffer.size > 0 && !p.queued) {
            p.queued = true;
            this.#ready.push(p);
          }
          this.#dispatch();
        });
      }
      byPartition.set(partition, p);
    }
    if (assignment.length > 0) this.options.observer?.assigned?.(assignment.map(({ topic, partition }) => ({ topic, partition })));
    try {
      if (this.#client.rebalanceProtocol() === 'EAGER') this.#client.assign(assignment);
      else this.#client.incrementalAssign(assignment);
    } catch (err) {
      this.#logger.error({ err: describe(err) }, 'could not take the assigned partitions');
    }
    if (assignment.length > 0) this.#logger.info({ partitions: assignment.map((tp) => `${tp.topic}[${tp.partition}]`) }, 'partitions assigned');
  }

  async #revoke(assignment: RdKafka.TopicPartition[], lost: boolean): Promise<void> {
    const revoked: Partition[] = [];
    for (const { topic, partition } of assignment) {
      const p = this.#partitions.get(topic)?.get(partition);
      if (!p) continue;
      this.#partitions.get(topic)!.delete(partition);
      p.accepting = false;
      p.buffer.clear();
      p.abort?.();
      if (lost) p.owned = false;
      revoked.push(p);
    }
    this.#ready = this.#ready.filter((p) => p.accepting);
    if (!lost && !this.#stopping) {
      // Running batches finish and store their offsets; their commit is queued in librdkafka
      // ahead of the unassign (not awaited to the broker: see the header).
      await Promise.all(revoked.map((p) => p.task));
      const stored = revoked.flatMap((p) => (p.stored ? [p.stored] : []));
      if (stored.length > 0) await this.#commit(stored).catch((err) => this.#logger.warn({ err: describe(err) }, 'commit before revocation failed'));
    }
    for (const p of revoked) {
      this.#resume(p);
      p.owned = false;
      if (p.task) {
        const task = p.task;
        this.#retiring.set(p, task);
        void task.finally(() => this.#retiring.delete(p));
      }
    }
    try {
      if (this.#client.rebalanceProtocol() === 'EAGER') this.#client.unassign();
      else this.#client.incrementalUnassign(assignment);
    } catch (err) {
      this.#logger.error({ err: describe(err) }, 'could not unassign the revoked partitions');
    }
    if (assignment.length > 0) {
      this.#logger.info({ partitions: assignment.map((tp) => `${tp.topic}[${tp.partition}]`), lost }, 'partitions revoked');
    }
    this.#roomMade();
  }
}
