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
  /** Most rows in one insert; a fuller buffer waits for the next insert. @defaultValue 20000 */
  maxRows?: number;
  /** Inserts running at the same time. @defaultValue 2 */
  maxInFlight?: number;
  /**
   * How long the first rows of a buffer wait for company before it is sent (a full buffer goes
   * at once). ClickHouse makes a part per insert, so fewer inserts mean less CPU for the same
   * rows; the analytics consumer group runs with a linger because nothing waits on it.
   * @defaultValue 0 (next turn of the event loop)
   */
  lingerMs?: number;
  /**
   * A buffer holding this many rows does not linger: under load inserts are large anyway, and
   * lingering would only slow the partitions waiting on them. @defaultValue 1000
   */
  lingerRows?: number;
}

interface Pending {
  /** When its first rows came. */
  since: number;
  rows: EventRow[];
  done: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Inserts are group-committed: batches from partitions handled at the same time join one
 * buffer, so ClickHouse sees fewer, larger inserts (each insert is a part to merge). A buffer
 * goes out after `lingerMs` (0: on the next turn of the event loop) or once it holds `lingerRows`; while
 * `maxInFlight` inserts run, rows gather, so under load inserts grow instead of multiplying.
 * `insert` resolves only after the insert holding its rows succeeded, so the consumer still
 * stores offsets only after ClickHouse has the rows.
 */
export class ClickhouseSink {
  readonly table: string;
  readonly #maxRows: number;
  readonly #maxInFlight: number;
  readonly #lingerMs: number;
  readonly #lingerRows: number;
  /** Buffers waiting to be sent, oldest first; only the last one takes new rows. */
  readonly #queue: Pending[] = [];
  #inFlight = 0;
  #scheduled = false;
  #lingerTimer: NodeJS.Timeout | undefined;

  constructor(readonly client: ClickHouseClient, options: ClickhouseSinkOptions = {}) {
    this.table = options.table ?? 'events';
    this.#maxRows = options.maxRows ?? 20_000;
    this.#maxInFlight = options.maxInFlight ?? 2;
    this.#lingerMs = options.lingerMs ?? 0;
    this.#lingerRows = Math.min(options.lingerRows ?? 1000, this.#maxRows);
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
    let p = this.#queue[this.#queue.length - 1];
    if (!p || p.rows.length >= this.#maxRows) {
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      p = { since: now, rows: [], done, resolve, reject };
      this.#queue.push(p);
    }
    for (const e of events) p.rows.push(ClickhouseSink.toRow(e, now));
    this.#schedule();
    return p.done;
  }

  /** Sends on the next turn, so batches that finish in the same turn share one insert. */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#drain();
    });
  }

  /** Sends due buffers (`lingerRows` rows, or waiting for `lingerMs`) while an insert slot is free. */
  #drain(): void {
    clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const p = this.#queue[0]!;
      const wait = p.since + this.#lingerMs - Date.now();
      if (wait > 0 && p.rows.length < this.#lingerRows) {
        this.#lingerTimer = setTimeout(() => this.#drain(), wait);
        return;
      }
      this.#queue.shift();
      this.#inFlight++;
      void this.#send(p).finally(() => {
        this.#inFlight--;
        this.#drain();
      });
    }
  }

  async #send(p: Pending): Promise<void> {
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
