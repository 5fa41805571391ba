/**
 * The dead-letter queue: a BullMQ queue on the persistent queue Redis. A dead letter keeps the
 * original record bytes and where they came from, so it can be inspected and replayed.
 * The job id is topic:partition:offset, so a redelivered record is dead-lettered once.
 */
import { type Job, Queue } from 'bullmq';
import type { EventProducer } from '../kafka/event-producer.ts';
import type { Redis } from 'ioredis';
import type { RawMessage } from '../kafka/consumer.ts';
import { readInt } from '../config.ts';
import type { LogSink } from '../log-sink.ts';

/**
 * The queue Redis never evicts, so dead letters must not grow without end: past the count the
 * oldest go, and none stays longer than the age. @defaultValue 100000 letters, 30 days
 * (DEAD_LETTER_MAX_COUNT, DEAD_LETTER_MAX_AGE_DAYS)
 */
export interface DeadLetterBounds {
  maxCount: number;
  maxAgeDays: number;
}

export function readDeadLetterBounds(env: Record<string, string | undefined>): DeadLetterBounds {
  return {
    maxCount: readInt(env, 'DEAD_LETTER_MAX_COUNT', 100_000, 1, 10_000_000),
    maxAgeDays: readInt(env, 'DEAD_LETTER_MAX_AGE_DAYS', 30, 1, 3650),
  };
}

/** The share of DEAD_LETTER_MAX_COUNT at which adding a letter warns that the oldest will soon go. */
export const WARN_AT = 0.8;

/** A Kafka record as BullMQ keeps it: where it was, and its bytes as JSON-safe text. */
export interface StoredRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  /** The record's bytes as they were in Kafka, base64. */
  value_base64: string | null;
  /** The record's headers (`ferry-tenant`), produced again on replay. */
  headers?: Record<string, string>;
}

/** A consumed record as BullMQ keeps it. */
export function toStoredRecord(raw: RawMessage): StoredRecord {
  return {
    topic: raw.topic,
    partition: raw.partition,
    offset: raw.offset,
    key: raw.key?.toString('utf8') ?? null,
    value_base64: raw.value?.toString('base64') ?? null,
    ...(raw.headers ? { headers: raw.headers } : {}),
  };
}

export interface DeadLetter extends StoredRecord {
  /** The pipeline step that gave up: `decode`, `apply`, ... */
  step: string;
  error: string;
  stack?: string;
  attempts: { at: string; error: string }[];
  dead_at: string;
}

/** How long a replayed letter stays in the queue, completed, as a record of the replay: 7 days. */
export const REPLAYED_KEPT_SECONDS = 7 * 24 * 3600;
/** How many replayed letters stay at most. */
export const REPLAYED_KEPT_COUNT = 10_000;

/** The states of a letter that waits for a person: new (not yet held by the replayer) or held. */
const WAITING = ['waiting', 'paused', 'delayed', 'failed'] as const;

export interface DeadLetterFilter {
  /** One dead letter by job id (`topic:partition:offset`). */
  id?: string;
  /** Kafka topic name (with the deployment prefix). */
  topic?: string;
  key?: string;
  /** `decode` or `apply`. */
  step?: string;
}

function matches(d: DeadLetter, f: DeadLetterFilter): boolean {
  return (!f.topic || d.topic === f.topic) && (!f.key || d.key === f.key) && (!f.step || d.step === f.step);
}

export class DeadLetters {
  readonly queue: Queue<DeadLetter>;

  readonly bounds: DeadLetterBounds;
  readonly #logger: LogSink | undefined;
  #lastWarning = 0;

  /** @param onAdd called for every dead letter added, for metrics. */
  constructor(
    connection: Redis,
    readonly name: string,
    readonly onAdd?: (step: string) => void,
    options: { bounds?: DeadLetterBounds; logger?: LogSink } = {},
  ) {
    this.queue = new Queue<DeadLetter>(name, { connection });
    this.bounds = options.bounds ?? readDeadLetterBounds({});
    this.#logger = options.logger;
  }

  async add(raw: RawMessage, step: string, error: Error, attempts: DeadLetter['attempts'] = []): Promise<void> {
    const letter: DeadLetter = {
      ...toStoredRecord(raw),
      step,
      error: error.message,
      ...(error.stack ? { stack: error.stack } : {}),
      attempts,
      dead_at: new Date().toISOString(),
    };
    // Dead letters wait for a person: the dashboard's replayer holds a new one as failed (a
    // job no worker has seen yet stays waiting) until someone replays or removes it.
    await this.queue.add('dead-letter', letter, {
      jobId: `${raw.topic}:${raw.partition}:${raw.offset}`,
      // A replayed letter completes (replayer.ts) and stays a week as a record of
      // the replay; one held for a person (failed) is kept within the bounds.
      removeOnComplete: { age: REPLAYED_KEPT_SECONDS, count: REPLAYED_KEPT_COUNT },
      removeOnFail: { age: this.bounds.maxAgeDays * 86_400, count: this.bounds.maxCount },
    });
    this.onAdd?.(step);
    await this.#trim();
  }

  /**
   * BullMQ trims held (failed) letters as the replayer holds new ones; here the total is kept
   * to the bound too (held letters first, then ones no replayer has seen yet, when the dashboard
   * is not running), oldest first, with a warning from WARN_AT of the bound on.
   */
  async #trim(): Promise<void> {
    const { maxCount, maxAgeDays } = this.bounds;
    const count = await this.count();
    if (count >= WARN_AT * maxCount && Date.now() - this.#lastWarning > 60_000) {
      this.#lastWarning = Date.now();
      this.#logger?.warn({ count, max: maxCount }, 'dead letters are near DEAD_LETTER_MAX_COUNT: past it the oldest are removed; replay or discard them');
    }
    await this.queue.clean(maxAgeDays * 86_400_000, 1000, 'wait');
    if (count <= maxCount) return;
    // Held letters are older than the one just added: they go first. Counted again just before,
    // as the replayer may have held (and BullMQ trimmed) meanwhile.
    const held = (await this.count()) - maxCount;
    const removed = held > 0 ? (await this.queue.clean(0, held, 'failed')).length : 0;
    const waiting = (await this.count()) - maxCount;
    if (waiting > 0 && removed < held) await this.queue.clean(0, waiting, 'wait');
  }

  /** Dead letters matching the filter, oldest first. */
  async list(filter: DeadLetterFilter = {}): Promise<Job<DeadLetter>[]> {
    if (filter.id) {
      const job = await this.queue.getJob(filter.id);
      return job ? [job] : [];
    }
    const jobs = await this.queue.getJobs([...WAITING], 0, -1, true);
    return jobs.filter((j) => j && matches(j.data, filter));
  }

  /**
   * Re-drives dead letters through the normal path: each original record is produced to its
   * topic again and removed from the queue only after Kafka acknowledged it. Sinks apply by
   * event id, so replaying an event that was already applied changes nothing. A letter `check`
   * gives a reason for is left in the queue and reported as refused; one Kafka did not take is
   * left too and reported as failed, with Kafka's reason.
   */
  async replay(
    producer: EventProducer,
    filter: DeadLetterFilter = {},
    check: (d: DeadLetter) => string | undefined = () => undefined,
  ): Promise<{ replayed: number; failed: { id: string; reason: string }[]; refused: { id: string; reason: string }[] }> {
    let replayed = 0;
    const failed: { id: string; reason: string }[] = [];
    const refused: { id: string; reason: string }[] = [];
    for (const job of await this.list(filter)) {
      const reason = check(job.data);
      if (reason) {
        refused.push({ id: String(job.id), reason });
        continue;
      }
      try {
        await replayLetter(producer, job.data);
        await job.remove();
        replayed++;
      } catch (err) {
        failed.push({ id: String(job.id), reason: (err as Error).message });
      }
    }
    return { replayed, failed, refused };
  }

  /** Letters waiting for a person. */
  async count(): Promise<number> {
    return this.queue.getJobCountByTypes(...WAITING);
  }

  /** Letters replayed and kept as a record of it (REPLAYED_KEPT_SECONDS). */
  async replayedCount(): Promise<number> {
    return this.queue.getJobCountByTypes('completed');
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

/**
 * Produces a dead letter's original record (key, bytes and headers) to its topic again and
 * resolves with where Kafka put it; throws when there is nothing to replay or Kafka refused.
 */
export async function replayLetter(producer: EventProducer, d: DeadLetter): Promise<{ partition: number; offset: string }> {
  if (d.value_base64 === null) throw new Error('the dead letter has no record value to replay');
  const [delivery] = await producer.send([{
    topic: d.topic,
    key: d.key ?? '',
    value: Buffer.from(d.value_base64, 'base64'),
    ...(d.headers ? { headers: d.headers } : {}),
  }]);
  if (!delivery) throw new Error('the producer returned no delivery');
  if (!delivery.ok) throw delivery.error;
  return { partition: delivery.partition, offset: delivery.offset };
}

/** A letter as people see it (`dlq show`, the dashboard): everything but the record's bytes, their size instead. */
export function letterWithoutPayload<T extends { value_base64: string | null }>(d: T): Omit<T, 'value_base64'> & { value_bytes: number } {
  const { value_base64: value, ...rest } = d;
  return { ...rest, value_bytes: value === null ? 0 : Buffer.byteLength(value, 'base64') };
}
