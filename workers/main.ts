/**
 * Worker entry. The primary process is a supervisor: it starts WORKER_PROCESSES members of the
 * consumer group, restarts a crashed one with backoff, and on SIGTERM/SIGINT asks each to stop.
 * Each member consumes, applies the sinks and commits (see lib/kafka/consumer.ts).
 */
import cluster from 'node:cluster';
import { processIndex, supervise } from '../lib/supervisor.ts';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { orExit } from '../lib/config.ts';
import { createClickhouse } from '../lib/clickhouse.ts';
import { describeKafkaSecurity } from '../lib/kafka/security.ts';
import { createLogger } from '../lib/logger.ts';
import { topicNames } from '../lib/kafka/topics.ts';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { BatchConsumer, type RawMessage } from '../lib/kafka/consumer.ts';
import { DeadLetters, readDeadLetterBounds } from '../lib/queues/dead-letters.ts';
import {
  batchFailures,
  batchSeconds,
  batchSize,
  batchWaitSeconds,
  deadLettered,
  eventsConsumed,
  inFlight,
  partitionLag,
  partitionStalls,
  retriesScheduled,
  serveMetrics,
  sinkBatchSize,
  sinkOutage,
  sinkSeconds,
} from './metrics.ts';
import { createApply, type SinkStep } from './apply.ts';
import type { ConsumedEvent } from '../lib/event.ts';
import { GroupCommit } from './group-commit.ts';
import { fromParked, KeyRetries } from './key-retries.ts';
import { deadLetterQueueName, retryQueueName } from '../lib/queues/names.ts';
import { createBatchProcessor } from './process-batch.ts';
import { decodeRecord } from '../lib/event.ts';
import { checkPostgresRole, UnsafePostgresRoleError } from './postgres-role.ts';
import { checkQueueRedis, connectQueueRedis } from '../lib/queues/redis.ts';
import { ClickhouseSink } from './sinks/clickhouse-sink.ts';
import { PostgresSink } from './sinks/postgres-sink.ts';
import { RedisSink } from './sinks/redis-sink.ts';
import { loadWorkerConfig, type WorkerGroup } from './worker-config.ts';
import { ANALYTICS_APPLIED_CHANNEL, APPLIED_CHANNEL, encodeAppliedLists } from '../lib/contract.ts';
import { startTracing } from '../lib/tracing-sdk.ts';

const config = orExit(() => loadWorkerConfig());
const deadLetterBounds = orExit(() => readDeadLetterBounds(process.env));

if (cluster.isPrimary && config.processes > 1) {
  supervise({ processes: config.processes, logger: createLogger('ferry-supervisor', config.logLevel), name: 'worker', stopTimeoutMs: 60_000 });
} else {
  // Not awaited at the top level: the built worker is CommonJS (scripts/build.ts, CODE_CACHED).
  runMember(processIndex()).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

async function runMember(index: number): Promise<void> {
  const logger = createLogger('ferry-worker', config.logLevel).child({ index });
  const tracing = await startTracing('ferry-worker', logger);
  const queueRedis = connectQueueRedis(config.queueRedisUrl);
  try {
    await checkQueueRedis(queueRedis);
  } catch (err) {
    logger.fatal((err as Error).message);
    process.exit(2);
  }
  const registry = loadRegistry();
  const codec = new Codec(registry);
  const sql = postgres(config.databaseUrl, { max: 4, onnotice: () => {} });
  try {
    await checkPostgresRole(sql);
  } catch (err) {
    if (err instanceof UnsafePostgresRoleError) {
      logger.fatal(err.message);
      process.exit(2);
    }
    // PostgreSQL unreachable: the outage handling holds batches until it is back.
    logger.warn({ err: (err as Error).message }, 'could not check the PostgreSQL role');
  }
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 3 });
  const clickhouse = createClickhouse(config.clickhouseUrl);
  const deadLetters = new DeadLetters(queueRedis, deadLetterQueueName(config.topicPrefix), (step) => deadLettered.inc({ step }), {
    bounds: deadLetterBounds,
    logger,
  });

  const apply = createApply({
    postgres: new PostgresSink(sql),
    redis: new RedisSink(redis, config.redisPrefix),
    clickhouse: new ClickhouseSink(clickhouse),
    observe: (sink, seconds, n) => {
      sinkSeconds.observe({ sink }, seconds);
      sinkBatchSize.observe({ sink }, n);
    },
  });

  /**
   * Two consumer groups read the same topics: the read model (PostgreSQL and Redis, what
   * clients read back and wait for) and analytics (ClickHouse). Each group stores its own
   * offsets after its own sinks wrote, so a partition's next read-model batch never waits for
   * an analytics insert, and a ClickHouse outage holds only the analytics group.
   */
  const groups: GroupSpec[] = ([
    {
      group: 'read-model',
      groupId: config.groupId,
      steps: new Set(['orders', 'page_views']),
      deadLetterStep: 'apply',
      channel: APPLIED_CHANNEL,
      poison: 'dead-letter',
      fetch: config.readModelLingerMs > 0 ? { minBytes: 64 << 10, maxWaitMs: config.readModelLingerMs } : undefined,
      batchSize: config.batchSize,
      combinedBatchSize: config.combinedBatchSize,
    },
    {
      // Nothing waits on analytics: the broker holds its fetches until 1 MiB or the linger, so
      // at low rates it fetches, and ClickHouse gets an insert, a few times a second instead of
      // once per event (each insert is a part for ClickHouse to write and merge). Under load its
      // larger batches make larger inserts for the same reason.
      group: 'analytics',
      groupId: config.analyticsGroupId,
      steps: new Set(['clickhouse']),
      deadLetterStep: 'clickhouse',
      channel: ANALYTICS_APPLIED_CHANNEL,
      poison: 'skip',
      fetch: config.analyticsLingerMs > 0 ? { minBytes: 1 << 20, maxWaitMs: config.analyticsLingerMs } : undefined,
      batchSize: config.analyticsBatchSize,
      combinedBatchSize: config.analyticsCombinedBatchSize,
    },
  ] satisfies GroupSpec[]).filter((g) => config.groups.includes(g.group));
  const members = groups.map((spec) => {
    const channel = `${config.redisPrefix}${spec.channel}`;
    const onApplied = (events: ConsumedEvent[]) => {
      if (events.length === 0) return;
      const perTopic = new Map<string, number>();
      const eventIds: string[] = [];
      const tenants: string[] = [];
      for (const e of events) {
        perTopic.set(e.topic, (perTopic.get(e.topic) ?? 0) + 1);
        eventIds.push(String(e.value.event_id));
        tenants.push(e.tenant);
      }
      for (const [topic, n] of perTopic) eventsConsumed.inc({ topic, group: spec.group }, n);
      // Gateways holding a "Prefer: wait" request listen on the read model's channel. Best
      // effort, and not waited for: a lost notification only means that client gets its 202
      // when the wait runs out, so the partition's next batch need not wait for the publish.
      void redis.publish(channel, encodeAppliedLists(eventIds, tenants)).catch(() => {});
    };
    const retries = new KeyRetries({
      connection: queueRedis,
      name: retryQueueName(config.topicPrefix, spec.group),
      deadLetters,
      logger,
      attempts: config.retryAttempts,
      backoffMs: config.retryBackoffMs,
      step: spec.deadLetterStep,
      onOutcome: (o) => {
        if (o === 'scheduled') retriesScheduled.inc({ group: spec.group });
      },
    });
    retries.start(async (records) => {
      const events = records.map((r) => decodeRecord(codec, config.topicPrefix, fromParked(r)));
      const good = events.filter((e): e is ConsumedEvent => !(e instanceof Error));
      await apply(good, spec.steps);
      onApplied(good);
    });
    const processBatch = createBatchProcessor({
      codec,
      topicPrefix: config.topicPrefix,
      apply,
      steps: spec.steps,
      poison: spec.poison,
      retries,
      deadLetters,
      logger,
      onApplied,
      onOutage: (down) => sinkOutage.set({ group: spec.group }, down ? 1 : 0),
    });
    const consumer = new BatchConsumer({
      brokers: config.kafkaBrokers,
      security: config.kafkaSecurity,
      groupId: spec.groupId,
      topics: topicNames(config.topicPrefix, registry.topics.keys()),
      logger: logger.child({ group: spec.group }),
      maxBatchSize: spec.batchSize,
      partitionsConcurrently: config.partitionConcurrency,
      packed: config.consumePacked,
      fetchMinBytes: spec.fetch?.minBytes,
      fetchMaxWaitMs: spec.fetch?.maxWaitMs,
      observer: {
        lag: (topic, partition, lag) => partitionLag.set({ topic, partition: String(partition), group: spec.group }, lag),
        inFlight: (delta) => inFlight.inc({ group: spec.group }, delta),
        stall: (topic, partition) => partitionStalls.inc({ topic, partition: String(partition), group: spec.group }),
        assigned: () => retries.partitionsAssigned(),
      },
    });
    const handler = async (messages: RawMessage[]) => {
      const end = batchSeconds.startTimer({ group: spec.group });
      batchSize.observe({ group: spec.group }, messages.length);
      let oldest = Infinity;
      for (const m of messages) if (m.timestamp !== undefined && m.timestamp < oldest) oldest = m.timestamp;
      if (Number.isFinite(oldest)) batchWaitSeconds.observe({ group: spec.group }, Math.max(0, Date.now() - oldest) / 1000);
      try {
        await processBatch(messages);
      } catch (err) {
        batchFailures.inc({ group: spec.group });
        throw err;
      } finally {
        end();
      }
    };
    /**
     * Partition batches that arrive together are applied as one (group-commit.ts): one round
     * trip to each store for all of them instead of one per partition. Per-key order holds: a
     * key lives in one partition, and a partition's next batch comes only after this one
     * returned. When the combined call fails, every partition in it is delivered again.
     */
    const combined = spec.combinedBatchSize > 0 ? new GroupCommit<RawMessage>(handler, { maxItems: spec.combinedBatchSize, maxInFlight: 2 }) : undefined;
    return { spec, consumer, retries, handler: combined ? (messages: RawMessage[]) => combined.add(messages) : handler };
  });
  const health = () => Object.fromEntries(members.map((m) => [m.spec.group, m.consumer.health()]));
  const metricsServer = config.metricsPort > 0 ? serveMetrics(config.metricsPort + index, health) : undefined;

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'stopping: finishing in-flight batches, committing, leaving the groups');
    const force = setTimeout(() => process.exit(1), 45_000);
    force.unref();
    const steps = [
      () => Promise.all(members.map((m) => m.consumer.disconnect())),
      () => Promise.all(members.map((m) => m.retries.close())),
      () => deadLetters.close(),
      () => sql.end(),
      () => clickhouse.close(),
    ];
    for (const step of steps) {
      try {
        await step();
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'error while stopping');
      }
    }
    await redis.quit().catch(() => redis.disconnect()); // sends what is queued (applied announcements) first
    queueRedis.disconnect();
    metricsServer?.close();
    await tracing?.shutdown();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  await Promise.all(members.map((m) => m.consumer.connect(m.handler)));
  logger.info({ groups: groups.map((g) => g.groupId), kafka: describeKafkaSecurity(config.kafkaSecurity) }, 'worker consuming');
  if (config.consumePacked && members.some((m) => !m.consumer.packed)) {
    logger.warn('the librdkafka addon has no consumePacked() (scripts/install.sh patches it in): records come one object each, at more CPU per record');
  }
}

/** One consumer group of a member and the sink steps it writes. */
interface GroupSpec {
  /** Metric label and log field. */
  group: WorkerGroup;
  groupId: string;
  steps: ReadonlySet<SinkStep>;
  deadLetterStep: string;
  /** Redis channel (after REDIS_PREFIX) announcing applied events. */
  channel: string;
  poison: 'dead-letter' | 'skip';
  /** Fetch batching (lib/kafka/consumer.ts); the defaults answer at once. */
  fetch?: { minBytes: number; maxWaitMs: number };
  /** Records per partition batch, and per combined call (0: each partition batch alone). */
  batchSize: number;
  combinedBatchSize: number;
}
