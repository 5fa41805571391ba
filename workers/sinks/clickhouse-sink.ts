/**
 * ClickHouse: one row per event in `events`. Rows go in as JSONEachRow inserts (values never
 * enter SQL text). Duplicates from redelivery are folded by ReplacingMergeTree on
 * (topic, event_id, tenant); see migrations/clickhouse/001_events.sql and 002_events_tenant.sql.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { ConsumedEvent } from '../../lib/event.ts';
import { GroupCommit } from '../group-commit.ts';

export interface EventRow {
  event_id: string;
  topic: string;
  tenant: string;
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
}

/**
 * Inserts are group-committed (workers/group-commit.ts): batches from partitions handled at the same
 * time join one insert, so ClickHouse sees fewer, larger inserts (each insert is a part to
 * merge). `insert` resolves only after the insert holding its rows succeeded, so the consumer
 * still stores offsets only after ClickHouse has the rows.
 */
export class ClickhouseSink {
  readonly table: string;
  readonly #inserts: GroupCommit<EventRow>;

  constructor(readonly client: ClickHouseClient, options: ClickhouseSinkOptions = {}) {
    this.table = options.table ?? 'events';
    this.#inserts = new GroupCommit((rows) => this.#send(rows), {
      maxItems: options.maxRows ?? 20_000,
      maxInFlight: options.maxInFlight ?? 2,
    });
  }

  static toRow(e: ConsumedEvent, writtenAt: number): EventRow {
    const occurred = Number(e.value.occurred_at);
    return {
      event_id: String(e.value.event_id),
      topic: e.topic,
      tenant: e.tenant,
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
    const now = Date.now();
    return this.#inserts.add(events.map((e) => ClickhouseSink.toRow(e, now)));
  }

  async #send(rows: EventRow[]): Promise<void> {
    const writtenAt = Date.now();
    for (const r of rows) r.written_at_ms = writtenAt;
    await this.client.insert({ table: this.table, values: rows, format: 'JSONEachRow' });
  }

  async ping(): Promise<void> {
    const r = await this.client.ping();
    if (!r.success) throw r.error;
  }
}
