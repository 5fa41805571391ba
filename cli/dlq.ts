/**
 * Dead-letter queue command line.
 *
 *   npm run dlq -- list [--topic T] [--key K] [--step decode|apply]
 *   npm run dlq -- show ID
 *   npm run dlq -- replay (--all | --id ID | --topic T [--key K] [--step S])
 *   npm run dlq -- discard (--all | --id ID | --topic T [--key K] [--step S])
 *
 * Uses the same environment as the worker (QUEUE_REDIS_URL, KAFKA_BROKERS, FERRY_TOPIC_PREFIX).
 */
import { parseArgs } from 'node:util';
import { loadCommonConfig, orExit } from '../lib/config.ts';
import { KafkaProducer } from '../lib/kafka/producer.ts';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { type DeadLetterFilter, DeadLetters, letterWithoutPayload } from '../lib/queues/dead-letters.ts';
import { deadLetterQueueName } from '../lib/queues/names.ts';
import { whyNotReplayable } from '../lib/queues/replay-check.ts';
import { connectQueueRedis } from '../lib/queues/redis.ts';
import { printable, printableJson } from '../lib/printable.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { all: { type: 'boolean' }, id: { type: 'string' }, topic: { type: 'string' }, key: { type: 'string' }, step: { type: 'string' } },
});
const [command, arg] = positionals;
const config = orExit(() => loadCommonConfig());
const connection = connectQueueRedis(config.queueRedisUrl);
const deadLetters = new DeadLetters(connection, deadLetterQueueName(config.topicPrefix));
const filter: DeadLetterFilter = {
  ...(values.id ? { id: values.id } : {}),
  ...(values.topic ? { topic: values.topic } : {}),
  ...(values.key ? { key: values.key } : {}),
  ...(values.step ? { step: values.step } : {}),
};

let code = 0;
try {
  if (command === 'list') {
    for (const job of await deadLetters.list(filter)) {
      const d = job.data;
      // Never print the payload: ids, places and errors only, escaped (keys and errors come from outside).
      console.log([job.id, d.step, d.topic, d.partition, d.offset, d.key ?? '', d.error.slice(0, 120)].map((f) => printable(String(f ?? ''))).join('\t'));
    }
  } else if (command === 'show' && arg) {
    const [job] = await deadLetters.list({ id: arg });
    if (!job) {
      console.error(`no dead letter ${printable(arg)}`);
      code = 1;
    } else {
      console.log(printableJson({ id: job.id, ...letterWithoutPayload(job.data) }));
    }
  } else if (command === 'replay' && (values.all || Object.keys(filter).length > 0)) {
    const producer = new KafkaProducer({ brokers: config.kafkaBrokers, security: config.kafkaSecurity });
    await producer.connect();
    const codec = new Codec(loadRegistry());
    const result = await deadLetters.replay(producer, values.all ? {} : filter, (d) => whyNotReplayable(codec, config.topicPrefix, d));
    await producer.close();
    for (const r of result.refused) console.log(`not replayed ${printable(r.id)}: ${printable(r.reason)}`);
    for (const f of result.failed) console.log(`failed ${printable(f.id)}: ${printable(f.reason)}`);
    console.log(`replayed ${result.replayed}, failed ${result.failed.length}, refused ${result.refused.length}`);
    if (result.failed.length > 0 || result.refused.length > 0) code = 1;
  } else if (command === 'discard' && (values.all || Object.keys(filter).length > 0)) {
    // What the dashboard's Clean does, for a shell: the letters are removed, nothing is produced.
    let discarded = 0;
    for (const job of await deadLetters.list(values.all ? {} : filter)) {
      // remove() refuses a letter the replayer is working on right now; it is left and not counted.
      if (await job.remove().then(() => true, () => false)) discarded++;
    }
    console.log(`discarded ${discarded}`);
  } else {
    console.error('usage: dlq list [--topic T] [--key K] [--step S] | dlq show ID | dlq (replay | discard) (--all | --id ID | --topic T [--key K] [--step S])');
    code = 2;
  }
} finally {
  await deadLetters.close();
  connection.disconnect();
}
process.exit(code);
