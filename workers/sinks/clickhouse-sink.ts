/**
 * ClickHouse: one row per event in `events`. Rows go in as RowBinary inserts (row-binary.ts;
 * values never enter SQL text): the event's JSON is written once, as the `payload` string,
 * where a JSON row would have escaped it a second time. Duplicates from redelivery are folded by
 * ReplacingMergeTree on (topic, event_id, tenant); see migrations/clickhouse/001_events.sql and
 * 002_events_tenant.sql.
 */
import { Readable } from 'node:stream';
import type { Buffer } from 'node:buffer';
import type { ClickHouseClient } from '@clickhouse/client';
import type { ConsumedEvent } from '../../lib/event.ts';
import { chIdent } from '../../lib/clickhouse.ts';
import { GroupCommit } from '../group-commit.ts';
import { RowBinaryWriter, writeUint64 } from './row-binary.ts';

/** The columns each row carries, in the order they are written. */
export const EVENT_COLUMNS = [
  'event_id',
  'topic',
  'tenant',
  'key',
  'occurred_at',
  'occurred_at_ms',
  'received_at_ms',
  'written_at_ms',
  'partition',
  'offset',
  'schema_id',
  'payload',
] as const;

export interface ClickhouseSinkOptions {
  /** @defaultValue `events` */
  table?: string;
  /** Most rows in one insert; a fuller buffer waits for the next insert. @defaultValue 20000 */
  maxRows?: number;
  /** Inserts running at the same time. @defaultValue 2 */
  maxInFlight?: number;
}

/** One caller's rows, encoded; `written_at_ms` is stamped into them when their insert starts. */
interface EncodedRows {
  bytes: Buffer;
  /** Where each row's written_at_ms sits in `bytes`. */
  writtenAt: number[];
}

/**
 * Inserts are group-committed (workers/group-commit.ts): batches from partitions handled at the same
 * time join one insert, so ClickHouse sees fewer, larger inserts (each insert is a part to
 * merge). `insert` resolves only after the insert holding its rows succeeded, so the consumer
 * still stores offsets only after ClickHouse has the rows. Each batch is encoded when it is
 * handed over, so an event that cannot be written fails its own batch, not the insert it would
 * have joined.
 */
export class ClickhouseSink {
  readonly table: string;
  readonly #query: string;
  readonly #inserts: GroupCommit<EncodedRows>;
  readonly #writer = new RowBinaryWriter();

  constructor(readonly client: ClickHouseClient, options: ClickhouseSinkOptions = {}) {
    this.table = options.table ?? 'events';
    this.#query = `INSERT INTO ${chIdent(this.table)} (${EVENT_COLUMNS.join(', ')}) FORMAT RowBinary`;
    this.#inserts = new GroupCommit((chunks) => this.#send(chunks), {
      maxItems: options.maxRows ?? 20_000,
      maxInFlight: options.maxInFlight ?? 2,
      size: (chunk) => chunk.writtenAt.length,
    });
  }

  insert(events: ConsumedEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    let chunk: EncodedRows;
    try {
      chunk = this.#encode(events);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#inserts.add([chunk]);
  }

  /** The rows of `events` in EVENT_COLUMNS order, written_at_ms left 0. */
  #encode(events: ConsumedEvent[]): EncodedRows {
    const w = this.#writer;
    const writtenAt: number[] = [];
    try {
      for (const e of events) {
        const v = e.value;
        const occurred = Number(v.occurred_at);
        w.string(String(v.event_id));
        w.string(e.topic);
        w.string(e.tenant);
        w.string(e.key);
        w.dateTime(occurred);
        w.uint64(occurred);
        w.uint64(Number(v.received_at));
        writtenAt.push(w.length);
        w.uint64(0);
        w.uint32(e.partition);
        w.uint64(e.offset);
        w.uint32(e.schemaId);
        w.string(JSON.stringify(v));
      }
      return { bytes: w.take(), writtenAt };
    } catch (err) {
      w.reset(); // the next batch starts on an empty writer
      throw err;
    }
  }

  async #send(chunks: EncodedRows[]): Promise<void> {
    const writtenAt = Date.now();
    for (const c of chunks) for (const at of c.writtenAt) writeUint64(c.bytes, at, writtenAt);
    const result = await this.client.exec({ query: this.#query, values: Readable.from(chunks.map((c) => c.bytes), { objectMode: false }) });
    // An insert answers with an empty body; reading it to the end frees the connection.
    for await (const _ of result.stream);
    // ClickHouse read every byte before it answered: the buffers can carry later rows. (After
    // a failure they are left to the garbage collector: a request being torn down may still
    // read them.)
    for (const c of chunks) this.#writer.recycle(c.bytes);
  }

  async ping(): Promise<void> {
    const r = await this.client.ping();
    if (!r.success) throw r.error;
  }
}
