/** BullMQ queue names, shared by the worker, the `dlq` command and the dashboard. */

/** The consumer groups a worker can belong to; each keeps its own per-key retries. */
export const WORKER_GROUPS = ['read-model', 'analytics'] as const;
export type WorkerGroup = (typeof WORKER_GROUPS)[number];

export function deadLetterQueueName(topicPrefix: string): string {
  return `${topicPrefix}ferry-dead-letters`;
}

/** Each consumer group keeps its own per-key retries. */
export function retryQueueName(topicPrefix: string, group: WorkerGroup): string {
  return `${topicPrefix}${group === 'read-model' ? 'ferry-retries' : 'ferry-retries-analytics'}`;
}
