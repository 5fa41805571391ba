import { topicNames } from '../kafka/topics.ts';
import type { Codec } from '../../schemas/codec.ts';
import type { DeadLetter } from './dead-letters.ts';
import { decodeRecord } from '../event.ts';

/**
 * Why replaying a dead letter would only bring it back (its topic is not Ferry's, or its bytes
 * do not decode with this process's schemas, so the worker would dead-letter it again), or
 * undefined when it may go. A letter that failed to decode under an older registry passes once
 * the schema it names is known.
 */
export function whyNotReplayable(codec: Codec, topicPrefix: string, d: DeadLetter): string | undefined {
  if (!topicNames(topicPrefix, codec.registry.topics.keys()).includes(d.topic)) return `${d.topic} is not one of Ferry's topics`;
  if (d.value_base64 === null) return 'the dead letter has no record value';
  const decoded = decodeRecord(codec, topicPrefix, {
    topic: d.topic,
    partition: d.partition,
    offset: d.offset,
    key: null,
    value: Buffer.from(d.value_base64, 'base64'),
  });
  return decoded instanceof Error ? `${decoded.message}; the worker would dead-letter it again` : undefined;
}
