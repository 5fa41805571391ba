/** Fields of a decoded record the console never shows (CONSOLE_REDACT_FIELDS), at any depth. */
export const REDACTED = '[redacted]';

export function redact(value: unknown, fields: ReadonlySet<string>): unknown {
  if (Array.isArray(value)) return value.map((v) => redact(v, fields));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = fields.has(k) ? REDACTED : redact(v, fields);
    return out;
  }
  return value;
}

/** Avro longs decode as bigint-free numbers here, but bytes as Buffers: JSON-safe copies. */
export function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Buffer.isBuffer(value)) return { bytes: value.length };
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonSafe(v)]));
  return value;
}
