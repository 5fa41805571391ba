/** BullMQ queue names, shared by the worker, the `dlq` command and the dashboard. */
import type { WorkerGroup } from './worker-config.ts';

export function deadLetterQueueName(topicPrefix: string): string {
  return `${topicPrefix}ferry-dead-letters`;
}

/** Each consumer group keeps its own per-key retries. */
export function retryQueueName(topicPrefix: string, group: WorkerGroup): string {
  return `${topicPrefix}${group === 'read-model' ? 'ferry-retries' : 'ferry-retries-analytics'}`;
}
