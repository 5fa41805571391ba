import { availableParallelism } from 'node:os';
import { type CommonConfig, ConfigError, loadCommonConfig, readInt } from '../lib/config.ts';

import { WORKER_GROUPS, type WorkerGroup } from '../lib/queues/names.ts';

export { WORKER_GROUPS, type WorkerGroup };

export interface WorkerConfig extends CommonConfig {
  /** Worker processes on this host, each a consumer-group member. @defaultValue available cores (WORKER_PROCESSES) */
  processes: number;
  /**
   * The consumer groups this worker's processes join: `read-model` (PostgreSQL, Redis) and
   * `analytics` (ClickHouse). Run a worker with `read-model` and another with `analytics` to
   * give each its own processes (and event loop). @defaultValue both (WORKER_GROUPS, comma-separated)
   */
  groups: WorkerGroup[];
  /** Consumer group that writes the read model (PostgreSQL, Redis). @defaultValue `<prefix>ferry-workers` (WORKER_GROUP_ID) */
  groupId: string;
  /**
   * Consumer group that writes ClickHouse. A group of its own, so the read model never waits
   * for an analytics insert and each commits its own offsets. @defaultValue `<groupId>-analytics` (WORKER_ANALYTICS_GROUP_ID)
   */
  analyticsGroupId: string;
  /**
   * How long the analytics group's fetches wait for 1 MiB of records, so ClickHouse gets a few
   * large inserts a second instead of one per event (nothing waits on analytics; its CPU is the
   * read model's latency on a busy host); 0 fetches at once. @defaultValue 200 (WORKER_ANALYTICS_LINGER_MS)
   */
  analyticsLingerMs: number;
  /**
   * How long the read model's fetches may wait for 64 KiB of records when fewer are there: at
   * moderate rates a few ms turn many fetches of a record or two into one, which costs Kafka,
   * the worker and PostgreSQL less per event; under load the 64 KiB are there at once. 0 fetches
   * at once. @defaultValue 5 (WORKER_READ_MODEL_LINGER_MS)
   */
  readModelLingerMs: number;
  /** The read model's records per partition batch (analytics has its own, below). @defaultValue 500 (WORKER_BATCH_SIZE) */
  batchSize: number;
  /**
   * The read model's partition batches handed over at the same time are applied together, up
   * to this many records (fewer round trips to every store per event); 0 applies each partition
   * batch on its own. Analytics has its own size, below. @defaultValue 1000 (WORKER_COMBINED_BATCH_SIZE)
   */
  combinedBatchSize: number;
  /**
   * The analytics group's records per partition batch and per combined call, so per ClickHouse
   * insert. Larger than the read model's: every insert is a part for ClickHouse to write and
   * merge, and nothing waits on analytics. Over a drain, inserts of ~5 000 rows cost ClickHouse
   * 35-60 % of the CPU per row that inserts of ~800 did (docs/benchmarks.md, "Findings behind the defaults").
   * @defaultValue 2000 (WORKER_ANALYTICS_BATCH_SIZE), 10000 (WORKER_ANALYTICS_COMBINED_BATCH_SIZE; 0: each partition batch alone)
   */
  analyticsBatchSize: number;
  analyticsCombinedBatchSize: number;
  /** Partitions handled at once per process: every partition of both topics, so none waits behind another. @defaultValue 12 (WORKER_PARTITION_CONCURRENCY) */
  partitionConcurrency: number;
  /**
   * Take records through the patched addon's consumePacked() (one Buffer per consume call) when
   * it has one; `false` uses the stock consume() (an object and Buffers per record).
   * @defaultValue true (WORKER_CONSUME_PACKED)
   */
  consumePacked: boolean;
  /** First metrics port; process i listens on port + i; 0 turns metrics off. @defaultValue 9464 (WORKER_METRICS_PORT) */
  metricsPort: number;
  /** Attempts per event, counting the first, before it is dead-lettered. @defaultValue 5 (WORKER_RETRY_ATTEMPTS) */
  retryAttempts: number;
  /** First retry delay in ms; doubles per attempt, with jitter. @defaultValue 1000 (WORKER_RETRY_BACKOFF_MS) */
  retryBackoffMs: number;
}

export function loadWorkerConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  const common = loadCommonConfig(env);
  const groupId = env.WORKER_GROUP_ID || `${common.topicPrefix}ferry-workers`;
  return {
    ...common,
    processes: readInt(env, 'WORKER_PROCESSES', availableParallelism(), 1, 256),
    groups: readGroups(env),
    groupId,
    analyticsGroupId: env.WORKER_ANALYTICS_GROUP_ID || `${groupId}-analytics`,
    analyticsLingerMs: readInt(env, 'WORKER_ANALYTICS_LINGER_MS', 200, 0, 60_000),
    readModelLingerMs: readInt(env, 'WORKER_READ_MODEL_LINGER_MS', 5, 0, 1000),
    batchSize: readInt(env, 'WORKER_BATCH_SIZE', 500, 1, 100_000),
    combinedBatchSize: readInt(env, 'WORKER_COMBINED_BATCH_SIZE', 1000, 0, 1_000_000),
    analyticsBatchSize: readInt(env, 'WORKER_ANALYTICS_BATCH_SIZE', 2000, 1, 100_000),
    analyticsCombinedBatchSize: readInt(env, 'WORKER_ANALYTICS_COMBINED_BATCH_SIZE', 10_000, 0, 1_000_000),
    partitionConcurrency: readInt(env, 'WORKER_PARTITION_CONCURRENCY', 12, 1, 1000),
    consumePacked: readBool(env, 'WORKER_CONSUME_PACKED', true),
    metricsPort: readInt(env, 'WORKER_METRICS_PORT', 9464, 0, 65535),
    retryAttempts: readInt(env, 'WORKER_RETRY_ATTEMPTS', 5, 1, 100),
    retryBackoffMs: readInt(env, 'WORKER_RETRY_BACKOFF_MS', 1000, 1, 3_600_000),
  };
}

function readBool(env: Record<string, string | undefined>, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new ConfigError(name, `must be true or false, got ${JSON.stringify(raw)}`);
}

function readGroups(env: Record<string, string | undefined>): WorkerGroup[] {
  const raw = env.WORKER_GROUPS?.trim();
  if (!raw) return [...WORKER_GROUPS];
  const names = [...new Set(raw.split(',').map((g) => g.trim()).filter(Boolean))];
  const unknown = names.filter((g) => !(WORKER_GROUPS as readonly string[]).includes(g));
  if (unknown.length > 0 || names.length === 0) {
    throw new ConfigError('WORKER_GROUPS', `must list one or both of ${WORKER_GROUPS.join(', ')}, got "${raw}"`);
  }
  return names as WorkerGroup[];
}
