/**
 * Queue gauges for Prometheus, served by the dashboard at /metrics and read from BullMQ when
 * scraped (so every dashboard process reports the same shared queues): dead letters waiting for
 * a person, the ones replayed, and the per-key retries in progress, and the queue Redis's memory
 * (it never evicts: full, it refuses writes). Alert on `ferry_dead_letters{state="waiting"} > 0`,
 * and on waiting letters nearing `ferry_dead_letters_max` (past it the oldest are removed).
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import client from 'prom-client';
import type { DeadLetters } from '../lib/queues/dead-letters.ts';
import type { WorkerGroup } from '../lib/queues/names.ts';

export function queueMetrics(deadLetters: DeadLetters, retries: { group: WorkerGroup; queue: Queue }[], queueRedis?: Redis): client.Registry {
  const registry = new client.Registry();
  new client.Gauge({
    name: 'ferry_dead_letters_max',
    help: 'DEAD_LETTER_MAX_COUNT: past it the oldest dead letters are removed',
    registers: [registry],
    collect() {
      this.set(deadLetters.bounds.maxCount);
    },
  });
  if (queueRedis) {
    new client.Gauge({
      name: 'ferry_queue_redis_memory_bytes',
      help: "The queue Redis's memory (INFO memory): used, and maxmemory (0: no limit). It never evicts, so when used reaches maxmemory it refuses writes",
      labelNames: ['kind'],
      registers: [registry],
      async collect() {
        const info = await queueRedis.info('memory');
        for (const [kind, field] of [['used', 'used_memory'], ['max', 'maxmemory']] as const) {
          const value = new RegExp(`^${field}:(\\d+)`, 'm').exec(info)?.[1];
          if (value !== undefined) this.set({ kind }, Number(value));
        }
      },
    });
  }
  new client.Gauge({
    name: 'ferry_dead_letters',
    help: 'Dead letters by state: waiting (for a person: held or not yet seen by the replayer) and replayed (kept a week)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const [waiting, replayed] = await Promise.all([deadLetters.count(), deadLetters.replayedCount()]);
      this.set({ state: 'waiting' }, waiting);
      this.set({ state: 'replayed' }, replayed);
    },
  });
  new client.Gauge({
    name: 'ferry_retries_pending',
    help: "Per-key retries scheduled or running, by consumer group (each holds its key's later events behind it)",
    labelNames: ['group'],
    registers: [registry],
    async collect() {
      for (const { group, queue } of retries) {
        const c = await queue.getJobCounts('delayed', 'waiting', 'active');
        this.set({ group }, (c.delayed ?? 0) + (c.waiting ?? 0) + (c.active ?? 0));
      }
    },
  });
  return registry;
}
