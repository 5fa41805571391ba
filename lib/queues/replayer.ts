/**
 * The dead-letter queue's only BullMQ worker, run by the dashboard process (dashboard/main.ts).
 *
 * Read slowly: one processor does two things, told apart by BullMQ's attempt count.
 * - A letter it has never finished (attemptsMade 0) is *held*: the processor fails it at once,
 *   with the letter's own error, so it sits in the queue's failed list, where the dashboard
 *   shows why it died and offers Retry. Nothing is produced. A crash while holding leaves the
 *   count at 0 (BullMQ counts an attempt only when it finishes), so the letter is held again.
 * - A letter someone retried (from the dashboard: BullMQ moves it back to waiting and keeps its
 *   attempt count) is *replayed*: its original record goes to its topic again through the
 *   normal path, and the job completes with where Kafka put it. A replay that fails (Kafka down)
 *   fails the job again, to be retried by a person later; a letter that would only come back (a
 *   topic that is not Ferry's, bytes that do not decode) is refused the same way, unproduced.
 * Sinks apply by event id, so a replay that ran twice (a crash after the produce) changes nothing.
 */
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { DELIVERY_TIMEOUT_MS, type EventProducer } from '../kafka/event-producer.ts';
import type { Logger } from '../logger.ts';
import type { Codec } from '../../schemas/codec.ts';
import { type DeadLetter, replayLetter } from './dead-letters.ts';
import { whyNotReplayable } from './replay-check.ts';

export interface DeadLetterReplayerOptions {
  /** The queue Redis (BullMQ duplicates it for its blocking reads, so it may be shared). */
  connection: Redis;
  /** The dead-letter queue's name (`<prefix>ferry-dead-letters`). */
  queueName: string;
  producer: EventProducer;
  /** Checks a letter before it goes back (replay-check.ts). */
  codec: Codec;
  /** FERRY_TOPIC_PREFIX. */
  topicPrefix: string;
  logger: Logger;
  /** Letters held or replayed at once. @defaultValue 4 */
  concurrency?: number;
}

/** What a replayed letter's job completes with: where its record is now. */
export interface ReplayResult {
  partition: number;
  offset: string;
  replayed_at: string;
}

export class DeadLetterReplayer {
  readonly worker: Worker<DeadLetter, ReplayResult>;

  constructor(readonly options: DeadLetterReplayerOptions) {
    this.worker = new Worker<DeadLetter, ReplayResult>(options.queueName, (job) => this.process(job), {
      connection: options.connection,
      concurrency: options.concurrency ?? 4,
      // A replay may wait for Kafka's connect and then its delivery (up to 30 s each): the lock
      // must outlast both, or BullMQ would take the job for stalled and run it again meanwhile.
      lockDuration: 3 * DELIVERY_TIMEOUT_MS,
      autorun: false,
    });
    // A failed job is the normal end of a hold; failures of the worker itself (Redis gone) are logged.
    this.worker.on('error', (err) => options.logger.warn({ err: err.message }, 'dead-letter replayer error'));
  }

  start(): void {
    void this.worker.run();
  }

  async process(job: Job<DeadLetter, ReplayResult>): Promise<ReplayResult> {
    const d = job.data;
    // The dashboard shows a failed job's stack: the letter's own for a hold, the reason alone for
    // a refusal (the replayer's stack would say nothing to the person reading it).
    if (job.attemptsMade === 0) throw failure(d.error, d.stack);
    const why = whyNotReplayable(this.options.codec, this.options.topicPrefix, d);
    if (why) throw failure(`not replayed: ${why}`);
    const at = await replayLetter(this.options.producer, d);
    // Ids and places only: never the payload.
    this.options.logger.info({ id: job.id, topic: d.topic, partition: at.partition, offset: at.offset }, 'dead letter replayed');
    return { ...at, replayed_at: new Date().toISOString() };
  }

  close(): Promise<void> {
    return this.worker.close();
  }
}

function failure(message: string, stack = message): UnrecoverableError {
  const err = new UnrecoverableError(message);
  err.stack = stack;
  return err;
}
