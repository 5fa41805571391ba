/**
 * Per-key retries in progress and the events parked behind each, read as workers/key-retries.ts
 * writes them: a BullMQ job per blocked key whose data names the key's list
 * (`<queue>:parked:<topic>:<tenant>:<key>`), the list's head being the event retried.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Codec } from '../../schemas/codec.ts';
import type { StoredRecord } from '../../lib/queues/dead-letters.ts';
import type { WorkerGroup } from '../../lib/queues/names.ts';
import { tenantOf } from '../../lib/contract.ts';
import { jsonSafe, redact } from './redact.ts';

export interface ParkedEvent {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  tenant: string;
  event_id?: string;
  record?: unknown;
}

export interface RetryInProgress {
  group: WorkerGroup;
  id: string;
  state: string;
  /** When the next attempt is due (ms), for a delayed retry. */
  due?: number;
  attempts: number;
  errors: { at: string; error: string }[];
  head?: ParkedEvent;
  /** Events in the key's list, the head included. */
  parked: number;
  /** The first few waiting behind the head. */
  behind: ParkedEvent[];
}

/** Retries listed per group, and parked events shown per retry, at most. */
const RETRIES_SHOWN = 100;
const BEHIND_SHOWN = 20;

export function parkedEvent(codec: Codec, fields: ReadonlySet<string>, text: string): ParkedEvent | undefined {
  let p: StoredRecord;
  try {
    p = JSON.parse(text) as StoredRecord;
  } catch {
    return undefined;
  }
  const base = { topic: p.topic, partition: p.partition, offset: p.offset, key: p.key, tenant: tenantOf(p.headers) };
  if (p.value_base64 === null) return base;
  try {
    const d = codec.decode(Buffer.from(p.value_base64, 'base64'));
    return { ...base, ...(typeof d.value.event_id === 'string' ? { event_id: d.value.event_id } : {}), record: redact(jsonSafe(d.value), fields) };
  } catch {
    return base;
  }
}

export async function retriesInProgress(
  redis: Redis,
  queues: { group: WorkerGroup; queue: Queue }[],
  codec: Codec,
  fields: ReadonlySet<string>,
): Promise<RetryInProgress[]> {
  const out: RetryInProgress[] = [];
  for (const { group, queue } of queues) {
    const jobs = await queue.getJobs(['delayed', 'waiting', 'active', 'prioritized'], 0, RETRIES_SHOWN - 1, true);
    for (const job of jobs) {
      if (!job) continue;
      const data = job.data as { list?: string; head?: string; errors?: { at: string; error: string }[] };
      const list = typeof data.list === 'string' ? data.list : undefined;
      const [parked, behind] = list ? await Promise.all([redis.llen(list), redis.lrange(list, 1, BEHIND_SHOWN)]) : [0, []];
      const state = await job.getState();
      const head = typeof data.head === 'string' ? parkedEvent(codec, fields, data.head) : undefined;
      out.push({
        group,
        id: String(job.id),
        state,
        ...(state === 'delayed' ? { due: job.timestamp + (job.delay ?? 0) } : {}),
        attempts: job.attemptsMade + 1,
        errors: data.errors ?? [],
        ...(head ? { head } : {}),
        parked,
        behind: behind.flatMap((t) => parkedEvent(codec, fields, t) ?? []),
      });
    }
  }
  return out;
}
