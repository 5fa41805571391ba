/**
 * Reading back one run's events from the sinks, watching the workers' applied-events channel,
 * and the consumer group's lag. Only rows whose key starts with the run tag are read.
 */
import { createRequire } from 'node:module';
import type { ClickHouseClient } from '@clickhouse/client';
import type { KafkaJS as KafkaJSTypes } from '@confluentinc/kafka-javascript';
import { Redis } from 'ioredis';
import type postgres from 'postgres';
import { chString } from '../lib/clickhouse.ts';
import { seqOfOrder, seqOfPayload } from './workload.ts';

const require = createRequire(import.meta.url);
const { KafkaJS } = require('@confluentinc/kafka-javascript') as { KafkaJS: typeof KafkaJSTypes };

export interface TaggedCounts {
  /** order_history rows of the run. */
  postgres: number;
  /** Distinct event ids of the run in ClickHouse (uniqExact, so unmerged copies count once). */
  clickhouse: number;
}

export async function countTagged(sql: postgres.Sql, clickhouse: ClickHouseClient, tag: string): Promise<TaggedCounts> {
  const [pg, ch] = await Promise.all([
    sql<{ n: string }[]>`SELECT count(*) AS n FROM order_history WHERE order_id LIKE ${`${tag}%`}`,
    clickhouse.query({ query: `SELECT uniqExact(event_id) AS n FROM events WHERE key LIKE ${chString(`${tag}%`)}`, format: 'JSONEachRow' }).then((r) =>
      r.json<{ n: string }>()
    ),
  ]);
  return { postgres: Number(pg[0]!.n), clickhouse: Number(ch[0]!.n) };
}

export interface PostgresRead {
  copies: Map<string, number>;
  trace: Map<string, number>;
  /** applied_at - received_at per row, ms. */
  endToEndMs: number[];
  firstAppliedMs: number;
  lastAppliedMs: number;
  /** Rows of `orders` (one per order) of the run. */
  orderRows: number;
}

export async function readPostgres(sql: postgres.Sql, tag: string): Promise<PostgresRead> {
  const rows = await sql<{ event_id: string; amount_cents: string; applied_ms: number; received_ms: number }[]>`
    SELECT event_id::text AS event_id, amount_cents::text AS amount_cents,
           (extract(epoch FROM applied_at) * 1000)::float8 AS applied_ms,
           (extract(epoch FROM received_at) * 1000)::float8 AS received_ms
    FROM order_history WHERE order_id LIKE ${`${tag}%`}`;
  const copies = new Map<string, number>();
  const trace = new Map<string, number>();
  const endToEndMs: number[] = [];
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  for (const r of rows) {
    copies.set(r.event_id, (copies.get(r.event_id) ?? 0) + 1);
    trace.set(r.event_id, seqOfOrder(Number(r.amount_cents)));
    endToEndMs.push(r.applied_ms - r.received_ms);
    first = Math.min(first, r.applied_ms);
    last = Math.max(last, r.applied_ms);
  }
  const [orders] = await sql<{ n: string }[]>`SELECT count(*) AS n FROM orders WHERE order_id LIKE ${`${tag}%`}`;
  return { copies, trace, endToEndMs, firstAppliedMs: first, lastAppliedMs: last, orderRows: Number(orders!.n) };
}

export interface ClickhouseRead {
  /** Copies per id as `FINAL` shows them: the check is defined on this view. */
  final: Map<string, number>;
  /** Copies per id in the table as stored (merge-pending duplicates included). */
  raw: Map<string, number>;
  topicOf: Map<string, string>;
  trace: Map<string, number>;
  /** written_at_ms - received_at_ms per event (first copy), ms. */
  endToEndMs: number[];
  /** received_at_ms per event: when the gateway accepted it. */
  receivedMs: Map<string, number>;
  firstWrittenMs: number;
  lastWrittenMs: number;
}

/** Reads the run's rows; traces (payload) are fetched only for ids not in `acknowledged`. */
export async function readClickhouse(clickhouse: ClickHouseClient, tag: string, acknowledged: ReadonlySet<string>): Promise<ClickhouseRead> {
  const like = chString(`${tag}%`);
  const query = async <T>(q: string) => (await clickhouse.query({ query: q, format: 'JSONEachRow' })).json<T>();
  // FINAL first, then raw: rows only ever arrive (merges drop copies, never ids), so every id
  // of the first read is in the second, and each one gets a trace. Read concurrently, rows that
  // landed in between were in FINAL without a trace and looked like phantoms.
  const finalRows = await query<{ event_id: string; n: string }>(`SELECT event_id, count() AS n FROM events FINAL WHERE key LIKE ${like} GROUP BY event_id`);
  const rawRows = await query<{ event_id: string; topic: string; n: string; received: string; written: string }>(
    `SELECT event_id, topic, count() AS n, any(received_at_ms) AS received, min(written_at_ms) AS written FROM events WHERE key LIKE ${like} GROUP BY event_id, topic`,
  );
  const raw = new Map<string, number>();
  const topicOf = new Map<string, string>();
  const receivedMs = new Map<string, number>();
  const endToEndMs: number[] = [];
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  for (const r of rawRows) {
    raw.set(r.event_id, (raw.get(r.event_id) ?? 0) + Number(r.n));
    topicOf.set(r.event_id, r.topic);
    const written = Number(r.written);
    receivedMs.set(r.event_id, Number(r.received));
    endToEndMs.push(written - Number(r.received));
    first = Math.min(first, written);
    last = Math.max(last, written);
  }
  const final = new Map(finalRows.map((r) => [r.event_id, Number(r.n)]));
  const trace = new Map<string, number>();
  const unknown = [...new Set([...raw.keys(), ...final.keys()])].filter((id) => !acknowledged.has(id));
  for (let i = 0; i < unknown.length; i += 500) {
    const ids = unknown.slice(i, i + 500).map(chString).join(',');
    for (
      const r of await query<{ event_id: string; topic: string; payload: string }>(
        `SELECT event_id, any(topic) AS topic, any(payload) AS payload FROM events WHERE event_id IN (${ids}) GROUP BY event_id`,
      )
    ) {
      const seq = seqOfPayload(r.topic, r.payload);
      if (seq !== undefined) trace.set(r.event_id, seq);
    }
  }
  return { final, raw, topicOf, trace, endToEndMs, receivedMs, firstWrittenMs: first, lastWrittenMs: last };
}

/** Page-view counters of the run's URLs (`<prefix>page_views:<tenant>:by_url`). */
export async function readPageViewCounters(redis: Redis, prefix: string, runId: string, tenant = 'default'): Promise<Map<string, number>> {
  const all = await redis.hgetall(`${prefix}page_views:${tenant}:by_url`);
  const mine = `https://shop.example/${runId}/`;
  return new Map(Object.entries(all).filter(([url]) => url.startsWith(mine)).map(([url, n]) => [url, Number(n)]));
}

/**
 * Listens where workers announce event ids: `<prefix>applied` (the read-model group wrote
 * PostgreSQL and Redis) and `<prefix>applied:analytics` (the analytics group wrote ClickHouse).
 * An id counts as applied, and `seenAt` notes when (this process's clock), once both announced it.
 */
export class AppliedWatcher {
  static readonly CHANNELS = ['applied', 'applied:analytics'];
  readonly seenAt = new Map<string, number>();
  /** Ids announced per channel (without the prefix), counting repeats. */
  readonly heard = new Map<string, number>();
  /** Ids heard on one channel only so far, with that channel. */
  readonly #half = new Map<string, string>();
  readonly #redis: Redis;
  #onNew: ((id: string, at: number) => void) | undefined;

  constructor(redisUrl: string, readonly prefix: string) {
    this.#redis = new Redis(redisUrl, { maxRetriesPerRequest: null, connectionName: 'ferry-bench-applied' });
    this.#redis.on('error', () => {});
    this.#redis.on('message', (channel: string, message: string) => {
      const at = Date.now();
      let ids: string[];
      try {
        ids = (JSON.parse(message) as { event_ids?: string[] }).event_ids ?? [];
      } catch {
        return;
      }
      const name = channel.slice(this.prefix.length);
      this.heard.set(name, (this.heard.get(name) ?? 0) + ids.length);
      for (const id of ids) {
        if (this.seenAt.has(id)) continue;
        const other = this.#half.get(id);
        if (other === undefined) {
          this.#half.set(id, channel);
          continue;
        }
        if (other === channel) continue;
        this.#half.delete(id);
        this.seenAt.set(id, at);
        this.#onNew?.(id, at);
      }
    });
  }

  onNew(fn: (id: string, at: number) => void): void {
    this.#onNew = fn;
  }

  async start(): Promise<void> {
    await this.#redis.subscribe(...AppliedWatcher.CHANNELS.map((c) => `${this.prefix}${c}`));
  }

  close(): void {
    this.#redis.disconnect();
  }
}

/** One admin connection for lag polling and clean-up. */
export class KafkaAdmin {
  readonly #admin: KafkaJSTypes.Admin;
  #connected: Promise<void> | undefined;

  constructor(brokers: string[]) {
    this.#admin = new KafkaJS.Kafka({ kafkaJS: { brokers, logLevel: KafkaJS.logLevel.NOTHING } }).admin();
  }

  connect(): Promise<void> {
    this.#connected ??= this.#admin.connect();
    return this.#connected;
  }

  /** Records not yet committed by the consumer group, summed over the topics' partitions. */
  async lag(groupId: string, topics: string[]): Promise<number> {
    await this.connect();
    const committed = await this.#admin.fetchOffsets({ groupId, topics });
    let lag = 0;
    for (const topic of topics) {
      const ends = await this.#admin.fetchTopicOffsets(topic);
      const done = committed.find((c) => c.topic === topic)?.partitions ?? [];
      for (const p of ends) {
        const c = Number(done.find((d) => d.partition === p.partition)?.offset ?? -1);
        lag += Number(p.high) - (c >= 0 ? c : Number(p.low));
      }
    }
    return lag;
  }

  /** The topics' end offsets summed over their partitions: how many records were ever written to them. */
  async endOffsets(topics: string[]): Promise<number> {
    await this.connect();
    let sum = 0;
    for (const topic of topics) for (const p of await this.#admin.fetchTopicOffsets(topic)) sum += Number(p.high);
    return sum;
  }

  async deleteGroups(groups: string[]): Promise<void> {
    await this.connect();
    await this.#admin.deleteGroups(groups);
  }

  async deleteTopics(topics: string[]): Promise<void> {
    await this.connect();
    await this.#admin.deleteTopics({ topics, timeout: 15_000 });
  }

  async close(): Promise<void> {
    if (this.#connected) await this.#admin.disconnect();
  }
}
