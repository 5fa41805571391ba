/**
 * For ratio b: the producer limit. Produces pre-encoded records (the same events, codec, keys,
 * sizes and header as the gateway's batch leg) as fast as librdkafka takes them, with the
 * gateway's librdkafka settings (mirrored from lib/kafka/producer.ts and the gateway's
 * defaults: keep in step) and the same in-flight bound, for WARMUP_S + DURATION_S seconds.
 * Prints one JSON line: acknowledged records per second after the warm-up.
 *
 * Environment: KAFKA_BROKERS, TOPIC_PREFIX (records go to <prefix>orders and
 * <prefix>page_views), RUN_ID, BATCH (events per generated request, for the mix), ORDERS_RATIO,
 * KEYS, WARMUP_S, DURATION_S, KAFKA_LINGER_MS, KAFKA_COMPRESSION, KAFKA_MAX_IN_FLIGHT.
 */
import { createRequire } from 'node:module';
import type * as RdKafka from '@confluentinc/kafka-javascript';
import { Codec } from '../../schemas/codec.ts';
import { loadRegistry } from '../../schemas/registry.ts';
import { toAvro } from '../../schemas/validate.ts';
import { planRequest, validateWorkload } from '../workload.ts';

const require = createRequire(import.meta.url);
const { Producer } = require('@confluentinc/kafka-javascript') as typeof RdKafka;

const env = process.env;
const warmupS = Number(env.WARMUP_S ?? 3);
const durationS = Number(env.DURATION_S ?? 10);
const maxInFlight = Number(env.KAFKA_MAX_IN_FLIGHT ?? 50_000);
const prefix = env.TOPIC_PREFIX ?? '';

// Pre-encode a pool of records exactly as the gateway would (toAvro with server values, codec).
const registry = loadRegistry();
const codec = new Codec(registry);
const workload = validateWorkload({
  runId: env.RUN_ID ?? 'bare',
  batch: Number(env.BATCH ?? 100),
  ordersRatio: Number(env.ORDERS_RATIO ?? 0.5),
  keys: Number(env.KEYS ?? 1000),
});
const pool: { topic: string; key: string; value: Buffer }[] = [];
for (let seq = 0; pool.length < 20_000; seq++) {
  const r = planRequest(workload, seq);
  const schemas = registry.topics.get(r.topic)!;
  for (const e of r.events) {
    const checked = toAvro(schemas.latest.schema, e, { event_id: crypto.randomUUID(), received_at: Date.now() });
    if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
    pool.push({ topic: prefix + r.topic, key: String(checked.value[schemas.key]), value: Buffer.from(codec.encode(r.topic, checked.value)) });
  }
}
const bytes = pool.reduce((s, r) => s + r.value.length, 0) / pool.length;

const producer = new Producer({
  'bootstrap.servers': env.KAFKA_BROKERS ?? '127.0.0.1:9092',
  'client.id': 'ferry-bench-bare-producer',
  acks: -1,
  'enable.idempotence': true,
  partitioner: 'murmur2_random',
  'linger.ms': Number(env.KAFKA_LINGER_MS ?? 1),
  'compression.codec': (env.KAFKA_COMPRESSION ?? 'lz4') as 'lz4',
  'queue.buffering.max.messages': 100_000,
  'delivery.timeout.ms': 30_000,
  dr_cb: true,
});

let inFlight = 0;
let acked = 0;
let failed = 0;
let measuring = false;
let ackedInWindow = 0;
producer.on('delivery-report', (err) => {
  inFlight--;
  if (err) failed++;
  else {
    acked++;
    if (measuring) ackedInWindow++;
  }
});
producer.on('event.error', () => {});
await new Promise<void>((resolve, reject) => producer.connect({ timeout: 30_000 }, (err) => (err ? reject(new Error(err.message)) : resolve())));
// A tight produce loop gets its reports cheapest from a 10 ms poll: one full run with
// background polling (the gateway's mode) gave 187 k records/s against 220-240 k with this, so
// the floor keeps the faster mode and the ratio is not flattered.
producer.setPollInterval(10);

const headers = [{ 'ferry-tenant': 'default' }];
let next = 0;
let stop = false;
let queueFull = 0;
function pump(): void {
  if (stop) return;
  // Like the gateway: stay under the in-flight bound; let librdkafka's queue push back.
  let n = 0;
  while (inFlight < maxInFlight && n++ < 2000) {
    const r = pool[next++ % pool.length]!;
    try {
      producer.produce(r.topic, null, r.value, r.key, Date.now(), undefined, headers);
      inFlight++;
    } catch {
      queueFull++;
      break;
    }
  }
  setImmediate(pump);
}
pump();
await new Promise((r) => setTimeout(r, warmupS * 1000));
process.stdout.write('measuring\n');
measuring = true;
const cpu0 = process.cpuUsage();
const t0 = Date.now();
await new Promise((r) => setTimeout(r, durationS * 1000));
measuring = false;
process.stdout.write('measured\n');
const seconds = (Date.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
stop = true;
await new Promise<void>((resolve) => producer.flush(30_000, () => resolve()));
await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
process.stdout.write(
  `${
    JSON.stringify({
      recordsPerS: ackedInWindow / seconds,
      seconds,
      acked,
      failed,
      queueFull,
      recordBytes: bytes,
      cores: (cpu.user + cpu.system) / 1e6 / seconds,
    })
  }\n`,
);
process.exit(0);
