/**
 * Confluent wire format: magic byte 0, a 4-byte big-endian schema id, then the Avro binary.
 * Any standard Confluent-compatible consumer can read records framed this way.
 */

export const MAGIC_BYTE = 0;
export const HEADER_SIZE = 5;

export function frame(schemaId: number, avro: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + avro.length);
  writeHeader(out, schemaId);
  out.set(avro, HEADER_SIZE);
  return out;
}

/** Writes the magic byte and the big-endian schema id into the first 5 bytes of `out`. */
export function writeHeader(out: Uint8Array, schemaId: number): void {
  out[0] = MAGIC_BYTE;
  out[1] = (schemaId >>> 24) & 0xff;
  out[2] = (schemaId >>> 16) & 0xff;
  out[3] = (schemaId >>> 8) & 0xff;
  out[4] = schemaId & 0xff;
}

export class WireFormatError extends Error {
  /** A record in the wrong format never gets better by retrying. */
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'WireFormatError';
  }
}

/** The schema id of a framed record; its Avro body starts at HEADER_SIZE. */
export function schemaIdOf(bytes: Uint8Array): number {
  if (bytes.length < HEADER_SIZE) throw new WireFormatError(`record of ${bytes.length} bytes is shorter than the 5-byte header`);
  if (bytes[0] !== MAGIC_BYTE) throw new WireFormatError(`unknown magic byte ${bytes[0]}`);
  return ((bytes[1]! << 24) | (bytes[2]! << 16) | (bytes[3]! << 8) | bytes[4]!) >>> 0;
}

export function unframe(bytes: Uint8Array): { schemaId: number; avro: Uint8Array } {
  return { schemaId: schemaIdOf(bytes), avro: bytes.subarray(HEADER_SIZE) };
}
