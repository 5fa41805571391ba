/**
 * Queue gauges for Prometheus, served by the dashboard at /metrics and read from BullMQ when
 * scraped (so every dashboard process reports the same shared queues): dead letters waiting for
 * a person, the ones replayed, and the per-key retries in progress. Alert on
 * `ferry_dead_letters{state="waiting"} > 0`.
 */
import type { Queue } from 'bullmq';
import client from 'prom-client';
import type { DeadLetters } from '../lib/queues/dead-letters.ts';
import type { WorkerGroup } from '../lib/queues/names.ts';

export function queueMetrics(deadLetters: DeadLetters, retries: { group: WorkerGroup; queue: Queue }[]): client.Registry {
  const registry = new client.Registry();
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
    help: 'Per-key retries scheduled or running, by consumer group (each holds its key\'s later events behind it)',
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
