/**
 * Isolations (support/isolation.ts `isolate`) left behind by a test or benchmark process that died
 * before its cleanup: a PostgreSQL and a ClickHouse database, two Kafka topics and Redis keys
 * each. An isolation's id names the process that made it (`t<ms36><pid36><hex>`), so one whose
 * process is gone can be dropped without touching the isolations of runs still going.
 *
 * Command line (scripts/test.sh and the benchmark run it first): node --import tsx support/stale-isolations.ts
 */
import { createRequire } from 'node:module';
import type * as RdKafka from '@confluentinc/kafka-javascript';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { createClickhouse } from '../lib/clickhouse.ts';
import { quoteIdent } from '../lib/migrate.ts';
import { deleteTopics } from '../lib/kafka/topics.ts';

const require = createRequire(import.meta.url);
const { AdminClient } = require('@confluentinc/kafka-javascript') as typeof RdKafka;

// t, the start time (base 36, 9 digits), the pid (base 36, 5 digits: up to pid_max 4 194 304),
// 6 hex digits. Ids made before they named their process: t, time (8 digits), 6 hex digits.
const CURRENT = /^t([0-9a-z]{9})([0-9a-z]{5})[0-9a-f]{6}$/;
const OLD = /^t([0-9a-z]{8})[0-9a-f]{6}$/;
const ID = 't(?:[0-9a-z]{14}|[0-9a-z]{8})[0-9a-f]{6}';
/** Where isolations put their id (isolation.ts): databases, topics, cache keys, BullMQ and parked-list keys. */
const NAMES = [
  new RegExp(`^ferry_(${ID})$`), // PostgreSQL and ClickHouse databases, a PostgreSQL role a test made
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
  /** @defaultValue postgres://postgres@127.0.0.1:5432/postgres */
  postgresAdminUrl?: string;
  /** @defaultValue http://127.0.0.1:8123/default */
  clickhouseUrl?: string;
  /** @defaultValue KAFKA_BROKERS or 127.0.0.1:9092 */
  brokers?: string[];
  /** The cache Redis, then the queue Redis. @defaultValue the local ones (6379, 6380) */
  redisUrls?: string[];
}

const defaults = (t: SweepTargets): Required<SweepTargets> => ({
  postgresAdminUrl: t.postgresAdminUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  clickhouseUrl: t.clickhouseUrl ?? 'http://127.0.0.1:8123/default',
  brokers: t.brokers ?? (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
  redisUrls: t.redisUrls ?? ['redis://127.0.0.1:6379/0', 'redis://127.0.0.1:6380'],
});

/**
 * Drops everything of one isolation: its PostgreSQL and ClickHouse databases (`ferry_<id>`, and
 * a PostgreSQL role of that name if a test made one), the given topics, and its keys
 * (`ferry:<id>:*` in the cache, `bull:<id>.*` and `<id>.*` for its retry queues). The one
 * place besides `isolate()` and NAMES that knows where an isolation lives; `cleanup()` and the
 * sweep both call it. Throws what it could not drop.
 */
export async function dropIsolation(id: string, topics: string[], targets: SweepTargets = {}): Promise<{ keys: number }> {
  if (!parseIsolationId(id)) throw new Error(`not an isolation id: ${id}`);
  const t = defaults(targets);
  const admin = postgres(t.postgresAdminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${quoteIdent(`ferry_${id}`)} WITH (FORCE)`);
    // A test may make a role of the same name (its privileges lived in that database).
    await admin.unsafe(`DROP ROLE IF EXISTS ${quoteIdent(`ferry_${id}`)}`);
  } finally {
    await admin.end();
  }
  const clickhouse = createClickhouse(t.clickhouseUrl);
  try {
    // The id was checked above: letters and digits only, safe to name unquoted.
    await clickhouse.command({ query: `DROP DATABASE IF EXISTS ferry_${id}` });
  } finally {
    await clickhouse.close();
  }
  await deleteTopics(t.brokers, topics);
  let keys = 0;
  const patterns = [[`ferry:${id}:*`], [`bull:${id}.*`, `${id}.*`]];
  for (const [i, url] of t.redisUrls.entries()) {
    const redis = new Redis(url, { maxRetriesPerRequest: 1 });
    try {
      for (const match of patterns[Math.min(i, 1)]!) {
        // SCAN in chunks: a benchmark leaves hundreds of thousands of keys, too many for one
        // KEYS answer or one UNLINK's argument list.
        for await (const found of redis.scanStream({ match, count: 1000 }) as AsyncIterable<string[]>) {
          if (found.length) keys += await redis.unlink(...found);
        }
      }
    } finally {
      redis.disconnect();
    }
  }
  return { keys };
}

export interface SweepResult {
  ids: string[];
  keys: number;
  /** Stores that could not be listed, and isolations that could not be dropped, with why. */
  problems: string[];
}

/**
 * Finds the isolations of processes that are gone, in every store, and drops each
 * (dropIsolation). Best effort: a store that is down is reported in `problems`, not thrown, so
 * a test run still starts.
 */
export async function sweepStaleIsolations(targets: SweepTargets = {}, options: StaleOptions = {}): Promise<SweepResult> {
  const t = defaults(targets);
  const problems: string[] = [];
  const stale = new Map<string, string[]>(); // id -> its topics
  const note = (name: string) => {
    const id = isolationIdIn(name);
    if (id !== undefined && isStale(id, options) && !stale.has(id)) stale.set(id, []);
    return id !== undefined && stale.has(id) ? id : undefined;
  };
  const attempt = async (what: string, list: () => Promise<void>) => {
    try {
      await list();
    } catch (err) {
      problems.push(`${what}: ${(err as Error).message}`);
    }
  };

  await attempt('PostgreSQL', async () => {
    const admin = postgres(t.postgresAdminUrl, { max: 1, onnotice: () => {} });
    try {
      for (const { datname } of await admin<{ datname: string }[]>`SELECT datname FROM pg_database WHERE datname LIKE 'ferry\\_t%'`) note(datname);
      for (const { rolname } of await admin<{ rolname: string }[]>`SELECT rolname FROM pg_roles WHERE rolname LIKE 'ferry\\_t%'`) note(rolname);
    } finally {
      await admin.end();
    }
  });
  await attempt('ClickHouse', async () => {
    const clickhouse = createClickhouse(t.clickhouseUrl);
    try {
      const rs = await clickhouse.query({ query: "SELECT name FROM system.databases WHERE name LIKE 'ferry\\\\_t%'", format: 'JSONEachRow' });
      for (const { name } of (await rs.json()) as { name: string }[]) note(name);
    } finally {
      await clickhouse.close();
    }
  });
  await attempt('Kafka', async () => {
    for (const topic of await listTopics(t.brokers)) {
      const id = note(topic);
      if (id) stale.get(id)!.push(topic);
    }
  });
  for (const url of t.redisUrls) {
    await attempt(`Redis ${url}`, async () => {
      const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
      try {
        await redis.connect();
        // Only names shaped like an isolation's (NAMES) count: an application key never does.
        for await (const keys of redis.scanStream({ match: '*t*', count: 2000 }) as AsyncIterable<string[]>) for (const k of keys) note(k);
      } finally {
        redis.disconnect();
      }
    });
  }

  let keys = 0;
  for (const [id, topics] of stale) {
    await attempt(`dropping ${id}`, async () => {
      keys += (await dropIsolation(id, topics, t)).keys;
    });
  }
  return { ids: [...stale.keys()].sort(), keys, problems };
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
    r.ids.length === 0 ? 'no stale test or benchmark isolations' : `dropped ${r.ids.length} stale isolations (${r.keys} Redis keys): ${r.ids.join(', ')}`,
  );
  for (const p of r.problems) console.log(`could not sweep: ${p}`);
  process.exit(0);
}
