/**
 * ClickHouse: one row per event in `events`. Rows go in as JSONEachRow inserts (values never
 * enter SQL text). Duplicates from redelivery are folded by ReplacingMergeTree on
 * (topic, event_id); see migrations/clickhouse/001_events.sql.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { ConsumedEvent } from '../event.ts';

export interface EventRow {
  event_id: string;
  topic: string;
  key: string;
  occurred_at: number;
  occurred_at_ms: number;
  received_at_ms: number;
  written_at_ms: number;
  partition: number;
  offset: string;
  schema_id: number;
  payload: string;
}

export interface ClickhouseSinkOptions {
  /** @defaultValue `events` */
  table?: string;
  /** Flush when this many rows are buffered. @defaultValue 5000 */
  maxRows?: number;
  /** Flush at the latest this long after the first buffered row. @defaultValue 10 */
  flushMs?: number;
}

interface Pending {
  rows: EventRow[];
  done: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * Inserts are group-committed: batches from partitions handled at the same time join one
 * buffer, flushed by size or time, so ClickHouse sees fewer, larger inserts (each insert is a
 * part to merge). `insert` resolves only after the buffer holding its rows was written, so the
 * consumer still stores offsets only after ClickHouse has the rows.
 */
export class ClickhouseSink {
  readonly table: string;
  readonly #maxRows: number;
  readonly #flushMs: number;
  #pending: Pending | undefined;

  constructor(readonly client: ClickHouseClient, options: ClickhouseSinkOptions = {}) {
    this.table = options.table ?? 'events';
    this.#maxRows = options.maxRows ?? 5000;
    this.#flushMs = options.flushMs ?? 10;
  }

  static toRow(e: ConsumedEvent, writtenAt: number): EventRow {
    const occurred = Number(e.value.occurred_at);
    return {
      event_id: String(e.value.event_id),
      topic: e.topic,
      key: e.key,
      // DateTime takes seconds since the epoch in JSONEachRow.
      occurred_at: Math.floor(occurred / 1000),
      occurred_at_ms: occurred,
      received_at_ms: Number(e.value.received_at),
      written_at_ms: writtenAt,
      partition: e.partition,
      offset: e.offset,
      schema_id: e.schemaId,
      payload: JSON.stringify(e.value),
    };
  }

  insert(events: ConsumedEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    const now = Date.now();
    let p = this.#pending;
    if (!p) {
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      p = this.#pending = { rows: [], done, resolve, reject };
      p.timer = setTimeout(() => void this.#flush(p!), this.#flushMs);
    }
    for (const e of events) p.rows.push(ClickhouseSink.toRow(e, now));
    const done = p.done;
    if (p.rows.length >= this.#maxRows) void this.#flush(p);
    return done;
  }

  async #flush(p: Pending): Promise<void> {
    if (this.#pending !== p) return;
    this.#pending = undefined;
    clearTimeout(p.timer);
    const writtenAt = Date.now();
    for (const r of p.rows) r.written_at_ms = writtenAt;
    try {
      await this.client.insert({ table: this.table, values: p.rows, format: 'JSONEachRow' });
      p.resolve();
    } catch (err) {
      p.reject(err);
    }
  }

  async ping(): Promise<void> {
    const r = await this.client.ping();
    if (!r.success) throw r.error;
  }
}
