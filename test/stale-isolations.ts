/**
 * Isolations (test/helpers.ts `isolate`) left behind by a test or benchmark process that died
 * before its cleanup: a PostgreSQL and a ClickHouse database, two Kafka topics and Redis keys
 * each. An isolation's id names the process that made it (`t<ms36>p<pid36>x<hex>`), so one whose
 * process is gone can be dropped without touching the isolations of runs still going.
 *
 * Command line (scripts/test.sh and the benchmark run it first): node --import tsx test/stale-isolations.ts
 */
import { createRequire } from 'node:module';
import type * as RdKafka from '@confluentinc/kafka-javascript';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { createClickhouse } from '../lib/clickhouse.ts';
import { quoteIdent } from '../lib/migrate.ts';
import { deleteTopics } from '../lib/topics.ts';

const require = createRequire(import.meta.url);
const { AdminClient } = require('@confluentinc/kafka-javascript') as typeof RdKafka;

// t, the start time (base 36, 9 digits), the pid (base 36, 5 digits: up to pid_max 4 194 304),
// 6 hex digits. Ids made before they named their process: t, time (8 digits), 6 hex digits.
const CURRENT = /^t([0-9a-z]{9})([0-9a-z]{5})[0-9a-f]{6}$/;
const OLD = /^t([0-9a-z]{8})[0-9a-f]{6}$/;
const ID = 't(?:[0-9a-z]{14}|[0-9a-z]{8})[0-9a-f]{6}';
/** Where isolations put their id (helpers.ts): databases, topics, cache keys, BullMQ and parked-list keys. */
const NAMES = [
  new RegExp(`^ferry_(${ID})$`), // PostgreSQL and ClickHouse databases
  new RegExp(`^(${ID})\\.`), // topics, parked lists, dead letters
  new RegExp(`^ferry:(${ID}):`), // cache Redis (REDIS_PREFIX)
  new RegExp(`^bull:(${ID})\\.`), // BullMQ queues (<prefix>ferry-retries, ...)
];

export function newIsolationId(now = Date.now(), pid = process.pid, random = Math.random): string {
  const hex = Math.floor(random() * 0x1000000).toString(16).padStart(6, '0').slice(-6);
  return `t${now.toString(36).padStart(9, '0')}${pid.toString(36).padStart(5, '0')}${hex}`;
}

export interface ParsedId {
  startedAt: number;
  /** Undefined for ids made before ids named their process. */
  pid?: number;
}

export function parseIsolationId(id: string): ParsedId | undefined {
  const m = CURRENT.exec(id);
  if (m) return { startedAt: parseInt(m[1]!, 36), pid: parseInt(m[2]!, 36) };
  const old = OLD.exec(id);
  return old ? { startedAt: parseInt(old[1]!, 36) } : undefined;
}

/** The isolation id a database, topic or key name carries, if it is named like an isolation's. */
export function isolationIdIn(name: string): string | undefined {
  for (const re of NAMES) {
    const m = re.exec(name);
    if (m) return m[1];
  }
  return undefined;
}

export interface StaleOptions {
  now?: number;
  /** @defaultValue process.kill(pid, 0) succeeds */
  isAlive?: (pid: number) => boolean;
  /** Ids that name no process are stale after this long. @defaultValue 3 h */
  oldFormatAfterMs?: number;
}

export function isStale(id: string, options: StaleOptions = {}): boolean {
  const parsed = parseIsolationId(id);
  if (!parsed) return false;
  if (parsed.pid === undefined) return (options.now ?? Date.now()) - parsed.startedAt > (options.oldFormatAfterMs ?? 3 * 3_600_000);
  if (parsed.pid === process.pid) return false;
  return !(options.isAlive ?? pidAlive)(parsed.pid);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, owned by someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface SweepTargets {
  postgresAdminUrl?: string;
  clickhouseUrl?: string;
  brokers?: string[];
  redisUrls?: string[];
}

export interface SweepResult {
  ids: string[];
  databases: number;
  clickhouseDatabases: number;
  topics: number;
  keys: number;
}

/** Drops what stale isolations left behind. Each store is best effort: one that is down is skipped. */
export async function sweepStaleIsolations(targets: SweepTargets = {}, options: StaleOptions = {}): Promise<SweepResult> {
  const stale = (name: string) => {
    const id = isolationIdIn(name);
    return id !== undefined && isStale(id, options) ? id : undefined;
  };
  const ids = new Set<string>();
  const result: SweepResult = { ids: [], databases: 0, clickhouseDatabases: 0, topics: 0, keys: 0 };

  const admin = postgres(targets.postgresAdminUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres', { max: 1, onnotice: () => {} });
  try {
    const rows = await admin<{ datname: string }[]>`SELECT datname FROM pg_database WHERE datname LIKE 'ferry\\_t%'`;
    for (const { datname } of rows) {
      const id = stale(datname);
      if (!id) continue;
      await admin.unsafe(`DROP DATABASE IF EXISTS ${quoteIdent(datname)} WITH (FORCE)`);
      ids.add(id);
      result.databases++;
    }
  } catch {
    // PostgreSQL down: nothing to sweep there now.
  } finally {
    await admin.end();
  }

  const clickhouse = createClickhouse(targets.clickhouseUrl ?? 'http://127.0.0.1:8123/default');
  try {
    const rs = await clickhouse.query({ query: "SELECT name FROM system.databases WHERE name LIKE 'ferry\\\\_t%'", format: 'JSONEachRow' });
    for (const { name } of (await rs.json()) as { name: string }[]) {
      const id = stale(name);
      if (!id) continue;
      // The name matched ferry_<id>: letters and digits only, safe to name unquoted.
      await clickhouse.command({ query: `DROP DATABASE IF EXISTS ${name}` });
      ids.add(id);
      result.clickhouseDatabases++;
    }
  } catch {
    // ClickHouse down.
  } finally {
    await clickhouse.close();
  }

  const brokers = targets.brokers ?? (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
  try {
    const topics = await listTopics(brokers);
    const doomed = topics.filter((t) => stale(t) !== undefined);
    await deleteTopics(brokers, doomed);
    for (const t of doomed) ids.add(isolationIdIn(t)!);
    result.topics = doomed.length;
  } catch {
    // Kafka down.
  }

  for (const url of targets.redisUrls ?? ['redis://127.0.0.1:6379/0', 'redis://127.0.0.1:6380']) {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    try {
      await redis.connect();
      // SCAN in chunks: a benchmark leaves hundreds of thousands of keys.
      for await (const keys of redis.scanStream({ match: '*t*', count: 2000 }) as AsyncIterable<string[]>) {
        // Only names shaped like an isolation's (NAMES): an application key never matches.
        const doomed = keys.filter((k) => {
          const id = stale(k);
          if (id) ids.add(id);
          return id !== undefined;
        });
        if (doomed.length) result.keys += await redis.unlink(...doomed);
      }
    } catch {
      // Redis down.
    } finally {
      redis.disconnect();
    }
  }
  result.ids = [...ids].sort();
  return result;
}

async function listTopics(brokers: string[]): Promise<string[]> {
  const admin = AdminClient.create({ 'bootstrap.servers': brokers.join(','), 'client.id': 'ferry-admin' });
  try {
    return await new Promise<string[]>((resolve, reject) => {
      admin.listTopics({ timeout: 10_000 }, (err, topics) => (err ? reject(new Error(err.message)) : resolve(topics)));
    });
  } finally {
    admin.disconnect();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await sweepStaleIsolations();
  console.log(
    r.ids.length === 0
      ? 'no stale test or benchmark isolations'
      : `dropped ${r.ids.length} stale isolations: ${r.databases} PostgreSQL and ${r.clickhouseDatabases} ClickHouse databases, ${r.topics} topics, ${r.keys} Redis keys`,
  );
  process.exit(0);
}
