/**
 * Ferry's single-event requests as the peer's: the same JSON body to `POST /topics/<topic>`, keyed
 * (x-plt-kafka-hooks-key) by the field Ferry's registry keys the topic by (schemas/registry.json),
 * so both spread records over partitions by the same keys.
 */
import type { FixedRequest } from './load.ts';

export const PEER_KEY_HEADER = 'x-plt-kafka-hooks-key';

/**
 * `POST /v1/events/<topic>` with one event as the peer's `POST /topics/<prefix><topic>`.
 * `keyFields` maps a Ferry topic to the event field that is its Kafka key.
 */
export function toPeerRequest(r: FixedRequest, prefix: string, keyFields: ReadonlyMap<string, string>): FixedRequest {
  const topic = /^\/v1\/events\/([^/?]+)$/.exec(r.path)?.[1];
  const field = topic === undefined ? undefined : keyFields.get(topic);
  if (!field) throw new Error(`not a single-event request to a known topic: ${r.path}`);
  const event = JSON.parse(r.body) as unknown;
  if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new Error(`not one event: ${r.path}`);
  const key = (event as Record<string, unknown>)[field];
  if (typeof key !== 'string') throw new Error(`event to ${topic} has no string ${field}`);
  return { path: `/topics/${prefix}${topic}`, body: r.body, headers: { ...r.headers, [PEER_KEY_HEADER]: key } };
}
