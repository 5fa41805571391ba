/**
 * What a value of each Avro type may hold in Ferry: the schema's own `ferry.*` attributes,
 * narrowed to what every sink can store. validate.ts enforces these and json-schema.ts
 * documents them, so the gateway accepts exactly what it describes and what lands.
 *
 * Where the bounds come from:
 * - strings: PostgreSQL `text` and `jsonb` refuse U+0000, and an unpaired surrogate cannot be
 *   written as UTF-8 (Kafka keys, Redis keys, PostgreSQL, ClickHouse would hold U+FFFD, so the
 *   value could not be found again by what the client sent). Lengths count code points, as
 *   JSON Schema's minLength/maxLength do.
 * - timestamps: ClickHouse `events.occurred_at` is a `DateTime` (UInt32 seconds) partitioned by
 *   `toYYYYMM`, and `occurred_at_ms` a UInt64: nothing before the epoch parses, and past
 *   2106-02-06T23:59:59Z ClickHouse 18.16's date table ends (the value is filed under 1970, or
 *   wraps to 0). PostgreSQL `timestamptz` holds far more either side.
 * - integers: Avro `int` is 32-bit (PostgreSQL `integer`); `long` is held by JS as a number, so
 *   it stays within what avsc encodes exactly, ±(2^53 - 2) (PostgreSQL `bigint` holds more).
 * - sizes: strings without a `ferry.maxLength` and arrays without a `ferry.maxItems` get a
 *   product default, so every event has a bounded size (the largest order encodes well under
 *   Kafka's 1 MB record limit: see codec.test.ts).
 */
import type { SchemaObject } from './validate.ts';

/** 1970-01-01T00:00:00Z. */
export const TIMESTAMP_MIN_MS = 0;
/** 2106-02-06T23:59:59.999Z: the last second ClickHouse 18.16 files under its own month. */
export const TIMESTAMP_MAX_MS = Date.UTC(2106, 1, 6, 23, 59, 59, 999);
export const INT32_MIN = -(2 ** 31);
export const INT32_MAX = 2 ** 31 - 1;
/** avsc encodes a JS number as a long only within ±(2^53 - 2); it throws beyond. */
export const LONG_MIN = -(2 ** 53 - 2);
export const LONG_MAX = 2 ** 53 - 2;
export const DEFAULT_MAX_LENGTH = 2048;
export const DEFAULT_MAX_ITEMS = 1000;

export interface StringLimits {
  minLength: number;
  maxLength: number;
  pattern?: string;
  /** `uuid` strings have a fixed shape; no length is checked. */
  uuid: boolean;
}

export interface NumberLimits {
  minimum: number;
  maximum: number;
  /** JSON Schema format: int32, int64, or undefined for float/double. */
  format?: 'int32' | 'int64';
}

export interface TimestampLimits {
  minimum: number;
  maximum: number;
}

export interface ArrayLimits {
  minItems: number;
  maxItems: number;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

export function stringLimits(field: Record<string, unknown> | undefined, logicalType?: string): StringLimits {
  const uuid = logicalType === 'uuid';
  const pattern = typeof field?.['ferry.pattern'] === 'string' ? field['ferry.pattern'] : undefined;
  return {
    minLength: uuid ? 0 : Math.max(0, num(field?.['ferry.minLength']) ?? 0),
    maxLength: uuid ? 36 : num(field?.['ferry.maxLength']) ?? DEFAULT_MAX_LENGTH,
    ...(pattern !== undefined ? { pattern } : {}),
    uuid,
  };
}

export function numberLimits(type: string, field: Record<string, unknown> | undefined): NumberLimits {
  const [lo, hi, format] = type === 'int'
    ? [INT32_MIN, INT32_MAX, 'int32' as const]
    : type === 'long'
    ? [LONG_MIN, LONG_MAX, 'int64' as const]
    : [-Number.MAX_VALUE, Number.MAX_VALUE, undefined];
  return {
    minimum: Math.max(lo, num(field?.['ferry.minimum']) ?? lo),
    maximum: Math.min(hi, num(field?.['ferry.maximum']) ?? hi),
    ...(format ? { format } : {}),
  };
}

export function timestampLimits(): TimestampLimits {
  return { minimum: TIMESTAMP_MIN_MS, maximum: TIMESTAMP_MAX_MS };
}

export function arrayLimits(array: SchemaObject): ArrayLimits {
  return { minItems: Math.max(0, num(array['ferry.minItems']) ?? 0), maxItems: num(array['ferry.maxItems']) ?? DEFAULT_MAX_ITEMS };
}

// Fast path: one native scan; only strings holding NUL or a surrogate take the loop.
const SUSPECT = /[\0\uD800-\uDFFF]/;

/** Why a string cannot be stored by every sink, or undefined when it can. */
export function unstorableReason(s: string): string | undefined {
  if (!SUSPECT.test(s)) return undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) return 'may not contain U+0000 (NUL)';
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else return 'may not contain an unpaired surrogate';
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return 'may not contain an unpaired surrogate';
    }
  }
  return undefined;
}

/** Whether every sink stores `s` as it is (no NUL, no unpaired surrogate): ids, keys, text. */
export function isStorableString(s: string): boolean {
  return unstorableReason(s) === undefined;
}

/** Length in code points (an astral character counts once), as JSON Schema counts. */
export function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** RFC 3339 text of a limit, like 2106-02-06T23:59:59.999Z. */
export function timestampText(ms: number): string {
  return new Date(ms).toISOString();
}
