/**
 * Per-key retries that keep per-key order.
 *
 * When an event fails for a reason of its own (not an outage), it is parked at the head of a
 * per-key list in the queue Redis and a BullMQ job retries it with exponential backoff and
 * jitter. While a key's list exists the key is *blocked*: every later event of that key is
 * appended behind the head instead of being applied, so order per key holds; other keys and the
 * partition's offsets move on (the parked events are durable in the queue Redis, which runs
 * with appendonly + fsync always). When the head succeeds, the events behind it are applied in
 * order; when it runs out of attempts it goes to the dead-letter queue and the next one moves up.
 *
 * Read slowly: "park if blocked" and "pop and unblock" are single Lua scripts, so an event is
 * either parked behind a head that a job will still see, or finds the key free and is applied
 * directly; it can never be parked behind a list that no job drains.
 *
 * The lists that exist are also named in one set per queue (`<name>:blocked`), added and removed
 * by the same scripts that make and empty a list, so a batch can learn with one question that
 * no key of its group is blocked, which is almost always the case (see parkBlocked).
 *
 * Read slowly: that answer is kept for a moment (`trustClearMs`) rather than asked per batch. Only
 * a partition's owner blocks its keys, so while this process's partitions stay the same, no other
 * process can block one of their keys; the answer is dropped when this process blocks a key
 * and when it is assigned partitions (call `partitionsAssigned()` from the consumer's
 * assignment): the previous owner finished its batches, blocks included, before it gave them up.
 */
import { DelayedError, type Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { chunks } from '../lib/chunks.ts';
import type { Logger } from '../lib/logger.ts';
import type { RawMessage } from '../lib/kafka/consumer.ts';
import { type DeadLetter, type DeadLetters, type StoredRecord, toStoredRecord } from '../lib/queues/dead-letters.ts';
import { describe, isOutage } from './errors.ts';
import { tenantOf } from '../lib/contract.ts';
import { traceIdOf } from '../lib/tracing.ts';

/** A parked record: the raw Kafka record plus its attempt history. */
export type ParkedRecord = StoredRecord;

export interface KeyRetriesOptions {
  connection: Redis;
  /** Names the BullMQ queue and prefixes the per-key lists. */
  name: string;
  deadLetters: DeadLetters;
  logger: Logger;
  /** Attempts before an event is dead-lettered, counting the first. @defaultValue 5 */
  attempts?: number;
  /** First retry delay; doubles each attempt, with 50% jitter. @defaultValue 1000 */
  backoffMs?: number;
  /** Retry jobs run at once per process. @defaultValue 8 */
  concurrency?: number;
  /** The step named on dead letters from these retries. @defaultValue `apply` */
  step?: string;
  /** Called with each retry's outcome, for metrics. */
  onOutcome?: (outcome: 'scheduled' | 'applied' | 'dead') => void;
  /**
   * How long an answer that no key is blocked holds, unless this process blocks a key or is
   * assigned partitions first. It bounds how late a list made outside that model (by hand, or
   * by a member that lost its partitions and still runs) is noticed. 0 asks for every batch.
   * @defaultValue 1000
   */
  trustClearMs?: number;
}

const PARK_IF_BLOCKED = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('LPOS', KEYS[1], ARGV[1]) then return 2 end
redis.call('RPUSH', KEYS[1], ARGV[1])
return 1`;

// KEYS: the list, the set of lists.
const BLOCK = `
if not redis.call('LPOS', KEYS[1], ARGV[1]) then redis.call('RPUSH', KEYS[1], ARGV[1]) end
redis.call('SADD', KEYS[2], KEYS[1])
return redis.call('LINDEX', KEYS[1], 0)`;

// KEYS: the list, the set of lists.
const POP_HEAD = `
if redis.call('LINDEX', KEYS[1], 0) == ARGV[1] then redis.call('LPOP', KEYS[1]) end
local head = redis.call('LINDEX', KEYS[1], 0)
if not head then redis.call('SREM', KEYS[2], KEYS[1]) end
return head`;

// KEYS: the set of lists, then lists to add to it when they exist (found by a scan). Returns
// how many lists the set names.
const INDEX_LISTS = `
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('SADD', KEYS[1], KEYS[i]) end
end
return redis.call('SCARD', KEYS[1])`;

// KEYS: the set of lists. Returns how many it names, after dropping (a few at a time) any whose
// list is gone: a worker from before the set emptied it without removing it.
const COUNT_LISTS = `
local n = redis.call('SCARD', KEYS[1])
if n == 0 then return 0 end
for _, list in ipairs(redis.call('SRANDMEMBER', KEYS[1], 16)) do
  if redis.call('EXISTS', list) == 0 then redis.call('SREM', KEYS[1], list) end
end
return redis.call('SCARD', KEYS[1])`;

// KEYS: lists. Returns the (1-based) positions of those that exist: one command for a batch's
// keys instead of an EXISTS each.
const WHICH_EXIST = `
local found = {}
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then found[#found + 1] = i end
end
return found`;

/** Keys asked about in one WHICH_EXIST call: bounds how long one call holds Redis. */
const KEYS_PER_CALL = 1000;

type Scripts = {
  ferryWhichExist(numKeys: number, ...keys: string[]): Promise<number[]>;
  ferryParkIfBlocked(list: string, record: string): Promise<number>;
  ferryBlockIndexed(list: string, lists: string, record: string): Promise<string>;
  ferryPopHeadIndexed(list: string, lists: string, record: string): Promise<string | null>;
  ferryIndexLists(numKeys: number, lists: string, ...found: string[]): Promise<number>;
  ferryCountLists(lists: string): Promise<number>;
};

interface RetryJob {
  list: string;
  head: string;
  errors: { at: string; error: string }[];
}

export type ApplyRaw = (records: ParkedRecord[]) => Promise<void>;

export const toParked: (raw: RawMessage) => ParkedRecord = toStoredRecord;

export function fromParked(p: ParkedRecord): RawMessage {
  return {
    topic: p.topic,
    partition: p.partition,
    offset: p.offset,
    key: p.key === null ? null : Buffer.from(p.key, 'utf8'),
    value: p.value_base64 === null ? null : Buffer.from(p.value_base64, 'base64'),
    ...(p.headers ? { headers: p.headers } : {}),
  };
}

/** The retry job of a parked head record: one per record. */
function jobIdOf(head: string): string {
  const h = JSON.parse(head) as ParkedRecord;
  return `${h.topic}:${h.partition}:${h.offset}`;
}

export class KeyRetries {
  readonly queue: Queue<RetryJob>;
  readonly #redis: Redis & Scripts;
  #worker: Worker<RetryJob> | undefined;
  #workerConnection: Redis | undefined;
  readonly #attempts: number;
  readonly #backoffMs: number;
  /** The set naming this queue's lists that exist. */
  readonly #blockedLists: string;
  /** Lists made before the set existed, added to it once per process (#indexExisting). */
  #indexed: Promise<void> | undefined;
  readonly #trustClearMs: number;
  /** When the question that found no key blocked was asked; undefined when that answer is dropped. */
  #clearAt: number | undefined;
  /** Moves on every block and assignment: an answer asked before it moved is not kept. */
  #generation = 0;

  constructor(readonly options: KeyRetriesOptions) {
    const r = options.connection as Redis & Partial<Scripts>;
    if (!r.ferryParkIfBlocked) r.defineCommand('ferryParkIfBlocked', { numberOfKeys: 1, lua: PARK_IF_BLOCKED });
    if (!r.ferryWhichExist) r.defineCommand('ferryWhichExist', { lua: WHICH_EXIST });
    if (!r.ferryBlockIndexed) {
      r.defineCommand('ferryBlockIndexed', { numberOfKeys: 2, lua: BLOCK });
      r.defineCommand('ferryPopHeadIndexed', { numberOfKeys: 2, lua: POP_HEAD });
      r.defineCommand('ferryIndexLists', { lua: INDEX_LISTS });
      r.defineCommand('ferryCountLists', { numberOfKeys: 1, lua: COUNT_LISTS });
    }
    this.#redis = r as Redis & Scripts;
    this.#blockedLists = `${options.name}:blocked`;
    this.queue = new Queue<RetryJob>(`${options.name}`, { connection: options.connection });
    this.#attempts = options.attempts ?? 5;
    this.#backoffMs = options.backoffMs ?? 1000;
    this.#trustClearMs = options.trustClearMs ?? 1000;
  }

  /** Partitions were assigned to this process: the next batch asks again which keys are blocked. */
  partitionsAssigned(): void {
    this.#forgetClear();
  }

  #forgetClear(): void {
    this.#generation++;
    this.#clearAt = undefined;
  }

  /**
   * The list a record parks in: per topic, tenant and key, so one tenant's failing event never
   * holds back another tenant's events that happen to share its key. The tenant is encoded: it
   * comes from a record header, and a `:` in it must not reach into the key's part.
   */
  listKey(record: RawMessage): string {
    return `${this.options.name}:parked:${record.topic}:${encodeURIComponent(tenantOf(record.headers))}:${record.key?.toString('utf8') ?? ''}`;
  }

  /**
   * Parks, in order, every record whose key is blocked; returns those that are free to apply
   * (`records` itself when none is parked). Idempotent: a redelivered record already parked is
   * not parked twice.
   */
  async parkBlocked(records: RawMessage[]): Promise<RawMessage[]> {
    if (records.length === 0) return [];
    if (await this.#nothingBlocked()) return records;
    // Ask which of the batch's lists exist (keys only, no payloads) and run the atomic park
    // script just for records of those keys. Only this partition's processing blocks its keys,
    // so a key cannot become blocked between the two steps; it can become free, which the
    // script sees.
    const lists = records.map((r) => this.listKey(r));
    const distinct = [...new Set(lists)];
    const found = await Promise.all(
      chunks(distinct, KEYS_PER_CALL).map(async (chunk) => (await this.#redis.ferryWhichExist(chunk.length, ...chunk)).map((i) => chunk[i - 1]!)),
    );
    const blocked = new Set(found.flat());
    if (blocked.size === 0) return records;
    const candidates = records.map((r, i) => ({ r, list: lists[i]! })).filter((c) => blocked.has(c.list));
    const p = this.#redis.pipeline() as unknown as Scripts & { exec(): Promise<[Error | null, unknown][] | null> };
    for (const c of candidates) p.ferryParkIfBlocked(c.list, JSON.stringify(toParked(c.r)));
    const results = (await p.exec()) ?? [];
    const parked = new Set<RawMessage>();
    const repeated = new Set<string>();
    results.forEach(([err, n], i) => {
      if (err) throw err;
      if (n !== 0) parked.add(candidates[i]!.r);
      if (n === 2) repeated.add(candidates[i]!.list);
    });
    // A record found already parked is a redelivery: the worker that parked it stopped before
    // its batch's offset was stored, maybe between making the list and scheduling its job.
    await Promise.all([...repeated].map((list) => this.#ensureScheduled(list)));
    return records.filter((r) => !parked.has(r));
  }

  /**
   * Schedules a retry for the list's head unless it has one. Read slowly: a worker that stops
   * after BLOCK and before #schedule leaves a list no job drains, and every later event of its key
   * would park behind it for good. The job id is the head's, so a head that has its job (waiting,
   * delayed or running) keeps it and this adds nothing.
   */
  async #ensureScheduled(list: string): Promise<void> {
    const head = await this.#redis.lindex(list, 0);
    if (head === null || (await this.queue.getJob(jobIdOf(head))) !== undefined) return;
    await this.#schedule(list, head, [], this.#delay(1));
  }

  /**
   * True when no key of this queue is blocked, asked once per batch instead of once per key:
   * the set of lists is empty and no retry job waits or runs. The set alone would do (lists are
   * added and removed by the scripts that make and empty them); the jobs cover lists that a
   * worker from before the set makes while it still runs, as each of its lists has a job. Such
   * lists made earlier are added to the set once per process, before the first answer.
   */
  async #nothingBlocked(): Promise<boolean> {
    const askedAt = Date.now();
    if (this.#clearAt !== undefined && askedAt - this.#clearAt < this.#trustClearMs) return true;
    const generation = this.#generation;
    this.#indexed ??= this.#indexExisting().catch((err: unknown) => {
      this.#indexed = undefined;
      throw err;
    });
    await this.#indexed;
    const [lists, jobs] = await Promise.all([
      this.#redis.ferryCountLists(this.#blockedLists),
      this.queue.getJobCountByTypes('waiting', 'paused', 'delayed', 'prioritized', 'waiting-children', 'active'),
    ]);
    const clear = lists === 0 && jobs === 0;
    // A block or an assignment while the question ran may not be in its answer.
    if (clear && generation === this.#generation) this.#clearAt = askedAt;
    return clear;
  }

  /** Adds to the set the lists that exist (a scan of the queue Redis, once per process). */
  async #indexExisting(): Promise<void> {
    const pattern = `${this.options.name.replace(/[*?[\]\\]/g, '\\$&')}:parked:*`;
    const scan = this.#redis.scanStream({ match: pattern, count: 1000 });
    for await (const keys of scan as AsyncIterable<string[]>) {
      if (keys.length > 0) await this.#redis.ferryIndexLists(keys.length + 1, this.#blockedLists, ...keys);
    }
  }

  /** Parks a failed record at (or behind) the head of its key and schedules the head's retry. */
  async block(record: RawMessage, error: unknown): Promise<void> {
    this.#forgetClear();
    const parked = JSON.stringify(toParked(record));
    const list = this.listKey(record);
    const head = await this.#redis.ferryBlockIndexed(list, this.#blockedLists, parked);
    if (head === parked) await this.#schedule(list, head, [{ at: new Date().toISOString(), error: describe(error) }], this.#delay(1));
  }

  async #schedule(list: string, head: string, errors: RetryJob['errors'], delay: number): Promise<void> {
    // One job per head record: the id makes a repeated schedule (after a crash) a no-op.
    await this.queue.add('retry', { list, head, errors }, {
      jobId: jobIdOf(head),
      delay,
      attempts: Math.max(1, this.#attempts - 1),
      backoff: { type: 'exponential', delay: this.#backoffMs * 2, jitter: 0.5 },
      removeOnComplete: true,
      removeOnFail: false,
    });
    this.options.onOutcome?.('scheduled');
  }

  #delay(attempt: number): number {
    const base = this.#backoffMs * 2 ** (attempt - 1);
    return Math.round(base * (0.5 + Math.random() * 0.5));
  }

  /** Starts processing retry jobs with `apply`, which applies records to the sinks these retries are for. */
  start(apply: ApplyRaw): void {
    const { logger, deadLetters } = this.options;
    this.#worker = new Worker<RetryJob>(
      this.queue.name,
      async (job: Job<RetryJob>, token?: string) => {
        const { list } = job.data;
        let head: string | null = job.data.head;
        // Only the job of the current head may act; a stale job (its head already resolved) ends.
        if ((await this.#redis.lindex(list, 0)) !== head) return;
        let first = true;
        while (head) {
          const record = JSON.parse(head) as ParkedRecord;
          try {
            await apply([record]);
            this.options.onOutcome?.('applied');
          } catch (err) {
            if (isOutage(err)) {
              // A dependency is down: wait without spending an attempt.
              await job.moveToDelayed(Date.now() + this.#delay(3), token);
              throw new DelayedError();
            }
            const errors = [...(first ? job.data.errors : []), { at: new Date().toISOString(), error: describe(err) }];
            const finalAttempt = !first || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
            const where = { topic: record.topic, partition: record.partition, offset: record.offset, trace_id: traceIdOf(record.headers) };
            if (first && !finalAttempt) {
              logger.info({ ...where, attempts: errors.length, err: describe(err) }, 'retry failed; trying again later');
              await job.updateData({ ...job.data, errors });
              throw err;
            }
            if (!first) {
              // A record that was waiting behind the head fails on its own: it becomes the head
              // with a fresh retry schedule.
              logger.warn({ ...where, err: describe(err) }, 'event failed; retrying it in order');
              await this.#schedule(list, head, errors.slice(-1), this.#delay(1));
              return;
            }
            try {
              await deadLetters.add(fromParked(record), this.options.step ?? 'apply', err as Error, errors as DeadLetter['attempts']);
            } catch (dlqErr) {
              // Read slowly: were this job to fail for good, its list would hold the key blocked
              // with no job to drain it. It waits and comes back to this dead-letter write
              // instead (the letter's id is the record's, so a write that did land is not doubled).
              logger.warn({ ...where, err: describe(dlqErr) }, 'could not dead-letter an event; trying again later');
              await job.moveToDelayed(Date.now() + this.#delay(3), token);
              throw new DelayedError();
            }
            logger.warn({ ...where, attempts: errors.length }, 'retries exhausted; dead-lettered');
            this.options.onOutcome?.('dead');
          }
          head = await this.#redis.ferryPopHeadIndexed(list, this.#blockedLists, head);
          first = false;
        }
      },
      { connection: this.#workerConnection = this.options.connection.duplicate(), concurrency: this.options.concurrency ?? 8 },
    );
    this.#worker.on('error', (err) => logger.warn({ err: err.message }, 'retry worker error'));
  }

  /** Retry jobs waiting or delayed. */
  async pending(): Promise<number> {
    return this.queue.getJobCountByTypes('waiting', 'delayed', 'active', 'prioritized');
  }

  async close(): Promise<void> {
    try {
      await this.#worker?.close();
    } finally {
      // BullMQ leaves a connection it was given open; this one was made here for the worker.
      this.#workerConnection?.disconnect();
      await this.queue.close();
    }
  }
}
