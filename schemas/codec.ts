/**
 * Avro encoding and decoding of Ferry events in the Confluent wire format.
 * Decoding resolves the writer's schema (from the id in the record) to the reader's latest
 * version, so records written with an older schema still decode.
 */
import { Buffer } from 'node:buffer';
import avro from 'avsc';
import type { Registry } from './registry.ts';
import { HEADER_SIZE, schemaIdOf, WireFormatError, writeHeader } from './wire-format.ts';

export interface DecodedEvent {
  topic: string;
  schemaId: number;
  /** The record as avsc reads it: its fields are own properties (nested records are avsc's record objects too). */
  value: Record<string, unknown>;
}

export class Codec {
  readonly #types = new Map<number, avro.Type>();
  readonly #latest = new Map<string, { id: number; type: avro.Type }>();
  readonly #resolvers = new Map<number, avro.Resolver>();

  constructor(readonly registry: Registry) {
    for (const [topic, entry] of registry.topics) {
      for (const v of entry.versions) this.#types.set(v.id, avro.Type.forSchema(v.schema as avro.Schema));
      this.#latest.set(topic, { id: entry.latest.id, type: this.#types.get(entry.latest.id)! });
    }
  }

  /** Scratch space for encoding; records are copied out of it once, header included. */
  #scratch = Buffer.allocUnsafe(64 * 1024);

  /** Encodes a value already checked by `toAvro`; returns a Buffer of its own. */
  encode(topic: string, value: Record<string, unknown>): Uint8Array {
    const latest = this.#latest.get(topic);
    if (!latest) throw new Error(`no schema for topic ${topic}`);
    // avsc writes after the 5-byte header in the scratch buffer and returns the end; a negative
    // result means the record did not fit, by that many bytes: grow and write again.
    let end = latest.type.encode(value, this.#scratch, HEADER_SIZE);
    if (end < 0) {
      this.#scratch = Buffer.allocUnsafe(Math.max(2 * this.#scratch.length, this.#scratch.length - end));
      end = latest.type.encode(value, this.#scratch, HEADER_SIZE);
    }
    writeHeader(this.#scratch, latest.id);
    return Buffer.from(this.#scratch.subarray(0, end));
  }

  /** Throws WireFormatError (not retriable) for anything that is not a record of a known schema. */
  decode(bytes: Uint8Array): DecodedEvent {
    const schemaId = schemaIdOf(bytes);
    const known = this.registry.byId.get(schemaId);
    if (!known) throw new WireFormatError(`unknown schema id ${schemaId}`);
    const latest = this.#latest.get(known.topic)!;
    const writer = this.#types.get(schemaId)!;
    // avsc reads from the offset after the header: no view of the body is made per record.
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let decoded: { value: unknown; offset: number };
    try {
      if (schemaId === latest.id) {
        decoded = writer.decode(buf, HEADER_SIZE);
      } else {
        let resolver = this.#resolvers.get(schemaId);
        if (!resolver) {
          resolver = latest.type.createResolver(writer);
          this.#resolvers.set(schemaId, resolver);
        }
        decoded = latest.type.decode(buf, HEADER_SIZE, resolver);
      }
    } catch (err) {
      throw new WireFormatError(`record does not decode with schema ${schemaId}: ${(err as Error).message}`);
    }
    if (decoded.offset !== buf.length) {
      throw new WireFormatError(`record does not decode with schema ${schemaId}: ${decoded.offset < 0 ? 'truncated buffer' : 'trailing data'}`);
    }
    return { topic: known.topic, schemaId, value: decoded.value as Record<string, unknown> };
  }
}
