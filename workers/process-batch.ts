/**
 * One partition's batch, from raw records to sink writes. Steps:
 *
 * 1. decode: a record that cannot be decoded is poison; it goes straight to the dead-letter
 *    queue and never blocks its partition.
 * 2. park: records whose key is blocked by a pending retry wait behind it (key-retries.ts).
 * 3. apply the rest as one batch (one statement per sink).
 * 4. if that fails (only the failed sink steps are tried again; the others wrote everything):
 *    - an outage (a sink unreachable): wait and try the same batch again, without spending
 *      attempts or dead-lettering anything; after `outageRetryMs` give the batch back to the
 *      consumer (which delivers it again) so the member keeps polling.
 *    - the sink named the events that failed (PostgreSQL does, see sinks/postgres-sink.ts): each
 *      failed event blocks its key and is retried by BullMQ, the later events of its key park
 *      behind it, everything else is already applied.
 *    - otherwise the failure belongs to some unnamed event: halve the batch along key lines to
 *      find it, then apply its key one event at a time.
 *
 * Returning means every record of the batch is applied, parked durably or dead-lettered, so
 * the consumer may store the batch's offset.
 */
import type { Codec } from '../schemas/codec.ts';
import type { Logger } from '../lib/logger.ts';
import { ALL_STEPS, type Apply, ApplyError, type SinkStep } from './apply.ts';
import type { BatchHandler, RawMessage } from '../lib/kafka/consumer.ts';
import type { DeadLetters } from '../lib/queues/dead-letters.ts';
import { describe, EventFailures, isOutage } from './errors.ts';
import { type ConsumedEvent, decodeRecord, tenantEventKey } from '../lib/event.ts';
import type { KeyRetries } from './key-retries.ts';
import { tenantOf } from '../lib/contract.ts';
import { traceIdOf } from '../lib/tracing.ts';

export interface ProcessBatchOptions {
  codec: Codec;
  topicPrefix: string;
  apply: Apply;
  /** The sink steps this processor writes; another consumer group may write the rest. @defaultValue every step */
  steps?: ReadonlySet<SinkStep>;
  /**
   * What to do with a record that cannot be decoded. Every consumer group sees the same poison
   * record; only one of them should dead-letter it. @defaultValue `dead-letter`
   */
  poison?: 'dead-letter' | 'skip';
  retries: KeyRetries;
  deadLetters: DeadLetters;
  logger: Logger;
  /** How long to keep retrying a batch through an outage before handing it back. @defaultValue 30000 */
  outageRetryMs?: number;
  /** Called after a batch is done, for metrics and for waiting clients. */
  onApplied?: (events: ConsumedEvent[]) => void | Promise<void>;
  /** Called while a sink is unreachable and when it is back. */
  onOutage?: (down: boolean) => void;
}

export function createBatchProcessor(options: ProcessBatchOptions): BatchHandler {
  const { codec, topicPrefix, apply, retries, deadLetters, logger } = options;
  const outageRetryMs = options.outageRetryMs ?? 30_000;
  const steps = options.steps ?? ALL_STEPS;
  const skipPoison = options.poison === 'skip';

  /** The decodable records and their events, index for index; poison is dead-lettered or skipped. */
  async function decodeAll(messages: RawMessage[]): Promise<{ records: RawMessage[]; events: ConsumedEvent[] }> {
    const records: RawMessage[] = [];
    const events: ConsumedEvent[] = [];
    for (const raw of messages) {
      const decoded = decodeRecord(codec, topicPrefix, raw);
      if (decoded instanceof Error) {
        if (skipPoison) {
          logger.debug(
            { topic: raw.topic, partition: raw.partition, offset: raw.offset, trace_id: traceIdOf(raw.headers) },
            'poison record skipped (dead-lettered by the read-model group)',
          );
          continue;
        }
        logger.warn(
          { topic: raw.topic, partition: raw.partition, offset: raw.offset, trace_id: traceIdOf(raw.headers), err: decoded.message },
          'poison record dead-lettered',
        );
        await deadLetters.add(raw, 'decode', decoded);
      } else {
        records.push(raw);
        events.push(decoded);
      }
    }
    return { records, events };
  }

  /** Applies one key's records in order; the first failure blocks the key for the rest. */
  async function applyKeyInOrder(records: RawMessage[], events: Map<RawMessage, ConsumedEvent>, steps: ReadonlySet<SinkStep>): Promise<ConsumedEvent[]> {
    const applied: ConsumedEvent[] = [];
    for (let i = 0; i < records.length; i++) {
      const raw = records[i]!;
      try {
        await apply([events.get(raw)!], steps);
        applied.push(events.get(raw)!);
      } catch (err) {
        if (isOutage(err)) throw err;
        logger.warn(
          { topic: raw.topic, partition: raw.partition, offset: raw.offset, trace_id: traceIdOf(raw.headers), err: describe(err) },
          'event failed; retrying it in order',
        );
        await retries.block(raw, err);
        // Everything after it with the same key waits behind it.
        await retries.parkBlocked(records.slice(i + 1));
        break;
      }
    }
    return applied;
  }

  /**
   * The sink applied everything but the named events (`failures` by tenantEventKey, as ids are
   * unique per tenant only): block each failed event's key (BullMQ retries it) and park the
   * later events of that key behind it. Returns what was applied.
   */
  async function holdFailed(records: RawMessage[], events: Map<RawMessage, ConsumedEvent>, failures: ReadonlyMap<string, Error>): Promise<ConsumedEvent[]> {
    const failureOf = (m: RawMessage) => {
      const e = events.get(m)!;
      return failures.get(tenantEventKey(e.tenant, String(e.value.event_id)));
    };
    const held = byKey(records.filter((m) => failureOf(m) !== undefined));
    const heldRecords = new Set<RawMessage>();
    for (const list of held.values()) {
      // Offset order: the first held record of a key is the one that failed.
      const first = list[0]!;
      const err = failureOf(first)!;
      logger.warn(
        { topic: first.topic, partition: first.partition, offset: first.offset, trace_id: traceIdOf(first.headers), err: describe(err) },
        'event failed; retrying it in order',
      );
      await retries.block(first, err);
      await retries.parkBlocked(list.slice(1));
      for (const m of list) heldRecords.add(m);
    }
    return records.filter((m) => !heldRecords.has(m)).map((m) => events.get(m)!);
  }

  /** Applies key groups together; on an event's own failure splits them in two and recurses. */
  async function applyGroups(
    groups: RawMessage[][],
    events: Map<RawMessage, ConsumedEvent>,
    steps: ReadonlySet<SinkStep>,
    tryWhole = true,
  ): Promise<ConsumedEvent[]> {
    if (groups.length === 0) return [];
    if (groups.length === 1) return applyKeyInOrder(groups[0]!, events, steps);
    const all = groups.flat().map((m) => events.get(m)!);
    if (tryWhole) {
      try {
        await apply(all, steps);
        return all;
      } catch (err) {
        if (isOutage(err)) throw err;
      }
    }
    const mid = Math.ceil(groups.length / 2);
    const [a, b] = await Promise.all([applyGroups(groups.slice(0, mid), events, steps), applyGroups(groups.slice(mid), events, steps)]);
    return [...a, ...b];
  }

  return async function processBatch(messages: RawMessage[]): Promise<void> {
    const decoded = await decodeAll(messages);
    const decodable = decoded.records;
    // Record -> event, needed only when some records are parked or an event failed.
    let byRecord: Map<RawMessage, ConsumedEvent> | undefined;
    const eventsOf = () => (byRecord ??= new Map(decodable.map((m, i) => [m, decoded.events[i]!])));
    const deadline = Date.now() + outageRetryMs;
    let wait = 250;
    // Steps still to write: one that succeeded is not written again while another is retried.
    let pending: ReadonlySet<SinkStep> = steps;
    for (;;) {
      try {
        const free = await retries.parkBlocked(decodable);
        const batch = free === decodable ? decoded.events : free.map((m) => eventsOf().get(m)!);
        try {
          await apply(batch, pending);
          await options.onApplied?.(batch);
        } catch (err) {
          if (err instanceof ApplyError) pending = err.failed;
          if (isOutage(err)) throw err;
          const named = namedFailures(err);
          if (named) {
            await options.onApplied?.(await holdFailed(free, eventsOf(), named));
            if (wait > 250) options.onOutage?.(false);
            return;
          }
          // Find the failing events by halving the batch along key lines (a key's events always
          // stay together, in order), so a few bad events cost a few statements, not one per event.
          const applied = await applyGroups([...byKey(free).values()], eventsOf(), pending, false);
          await options.onApplied?.(applied);
        }
        if (wait > 250) options.onOutage?.(false);
        return;
      } catch (err) {
        if (!isOutage(err)) throw err;
        options.onOutage?.(true);
        if (Date.now() + wait > deadline) throw err;
        logger.warn({ err: describe(err), retryInMs: wait }, 'a sink is unreachable; holding the batch');
        await new Promise((r) => setTimeout(r, wait));
        wait = Math.min(wait * 2, 5000);
      }
    }
  };
}

/**
 * Records grouped by topic, tenant and key (as key-retries.ts parks them), each group in the
 * records' (offset) order.
 */
function byKey(records: RawMessage[]): Map<string, RawMessage[]> {
  const groups = new Map<string, RawMessage[]>();
  for (const m of records) {
    const k = `${m.topic}\u0000${tenantOf(m.headers)}\u0000${m.key?.toString('utf8') ?? ''}`;
    const group = groups.get(k);
    if (group) group.push(m);
    else groups.set(k, [m]);
  }
  return groups;
}

/** The failed events, when the only failure is one that named them. */
function namedFailures(err: unknown): ReadonlyMap<string, Error> | undefined {
  if (!(err instanceof ApplyError) || err.errors.length !== 1) return undefined;
  const only = err.errors[0];
  return only instanceof EventFailures ? only.failures : undefined;
}
