/**
 * "Where is my event?": an event id or an order id, looked up in every place an event can be
 * — the order_history row (tenant, Kafka position, received and applied times) and the order's
 * row, the Redis cache's version, the ClickHouse events row, the dead-letter queue, the per-key
 * retries — and a verdict: applied, stuck (and where), or not yet consumed / unknown.
 */
import type { Redis } from 'ioredis';
import type { Sql } from 'postgres';
import type { ClickHouseClient } from '@clickhouse/client';
import { chString } from '../../lib/clickhouse.ts';
import { orderKey } from '../../lib/order-cache.ts';
import type { LetterQuery } from './letter-query.ts';
import type { LetterView, StoredLetter } from './letter-view.ts';
import type { RetryInProgress } from './parked-retries.ts';

export interface Finding {
  where: 'postgres' | 'redis' | 'clickhouse' | 'dead-letters' | 'retries';
  /** What was found, or why the place could not be asked. */
  rows: Record<string, unknown>[];
  error?: string;
}

export interface Timeline {
  query: string;
  kind: 'event' | 'order';
  findings: Finding[];
  verdict: string;
}

const UUID = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/i;
/** Rows shown per place at most. */
const ROWS = 50;

export interface SearchSources {
  sql: Sql;
  redis: Redis;
  redisPrefix: string;
  clickhouse: ClickHouseClient;
  letters: LetterQuery;
  view: (l: StoredLetter) => LetterView;
  retries: () => Promise<RetryInProgress[]>;
}

async function attempt(where: Finding['where'], f: () => Promise<Record<string, unknown>[]>): Promise<Finding> {
  try {
    return { where, rows: await f() };
  } catch (err) {
    return { where, rows: [], error: (err as Error).message.slice(0, 200) };
  }
}

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v);

export async function findEvent(s: SearchSources, query: string): Promise<Timeline> {
  const q = query.trim();
  const kind = UUID.test(q) ? 'event' : 'order';
  const history = await attempt('postgres', async () => {
    const rows = kind === 'event'
      ? await s
        .sql`SELECT h.*, o.event_id AS order_event_id, o.status AS order_status, o.updated_at AS order_updated_at FROM order_history h LEFT JOIN orders o ON o.tenant = h.tenant AND o.order_id = h.order_id WHERE h.event_id = ${q} LIMIT ${ROWS}`
      : await s
        .sql`SELECT h.*, o.event_id AS order_event_id, o.status AS order_status, o.updated_at AS order_updated_at FROM order_history h LEFT JOIN orders o ON o.tenant = h.tenant AND o.order_id = h.order_id WHERE h.order_id = ${q} ORDER BY h.occurred_at, h.source_offset LIMIT ${ROWS}`;
    return rows.map((r) => ({
      event_id: r.event_id,
      order_id: r.order_id,
      tenant: r.tenant,
      status: r.status,
      partition: r.source_partition,
      offset: String(r.source_offset),
      occurred_at: iso(r.occurred_at),
      received_at: iso(r.received_at),
      applied_at: iso(r.applied_at),
      order_now: { status: r.order_status, event_id: r.order_event_id, updated_at: iso(r.order_updated_at) },
    }));
  });
  const orders = new Map<string, { tenant: string; orderId: string }>();
  for (const r of history.rows) orders.set(`${String(r.tenant)}\u0000${String(r.order_id)}`, { tenant: String(r.tenant), orderId: String(r.order_id) });
  const analytics = await attempt('clickhouse', async () => {
    const where = kind === 'event' ? `event_id = ${chString(q)}` : `key = ${chString(q)}`;
    const rs = await s.clickhouse.query({
      query:
        `SELECT event_id, topic, tenant, key, partition, offset, received_at_ms, written_at_ms FROM events FINAL WHERE ${where} ORDER BY offset LIMIT ${ROWS}`,
      format: 'JSONEachRow',
    });
    const rows = await rs.json<Record<string, unknown>>();
    return rows.map((r) => ({
      ...r,
      received_at: new Date(Number(r.received_at_ms)).toISOString(),
      written_at: new Date(Number(r.written_at_ms)).toISOString(),
    }));
  });
  if (kind === 'order') {
    for (const r of analytics.rows) {
      if (r.topic && String(r.topic).endsWith('orders')) orders.set(`${String(r.tenant)}\u0000${q}`, { tenant: String(r.tenant || 'default'), orderId: q });
    }
  }
  const cache = await attempt('redis', async () => {
    const out: Record<string, unknown>[] = [];
    for (const o of orders.values()) {
      const version = await s.redis.hget(orderKey(s.redisPrefix, o.tenant, o.orderId), 'v');
      out.push({ tenant: o.tenant, order_id: o.orderId, cached: version !== null, version });
    }
    return out;
  });
  const letters = await attempt('dead-letters', async () => {
    const page = await s.letters.page(kind === 'event' ? { eventId: q } : { key: q }, undefined, ROWS, Number.MAX_SAFE_INTEGER);
    return page.letters.map((l) => s.view(l) as unknown as Record<string, unknown>);
  });
  const parked = await attempt('retries', async () => {
    const out: Record<string, unknown>[] = [];
    for (const r of await s.retries()) {
      const all = [...(r.head ? [{ ...r.head, position: 'retrying' }] : []), ...r.behind.map((b, i) => ({ ...b, position: `parked ${i + 1} behind` }))];
      for (const e of all) {
        if (kind === 'event' ? e.event_id === q : e.key === q) out.push({ group: r.group, retry: r.id, state: r.state, due: r.due, errors: r.errors, ...e });
      }
    }
    return out;
  });
  const findings = [history, cache, analytics, letters, parked];
  let verdict: string;
  if (letters.rows.length) verdict = `dead-lettered: ${String(letters.rows[0]!.error ?? '')}`;
  else if (parked.rows.length) verdict = `stuck behind a per-key retry (${String(parked.rows[0]!.group)})`;
  else if (history.rows.length) verdict = `applied to the read model${analytics.rows.length ? ' and to ClickHouse' : ', not yet in ClickHouse'}`;
  else if (analytics.rows.length) verdict = kind === 'event' ? 'in ClickHouse (not an order, or not in the read model yet)' : 'in ClickHouse only';
  else verdict = 'not yet consumed / unknown';
  return { query: q, kind, findings, verdict };
}
