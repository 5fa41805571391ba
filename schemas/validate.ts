/**
 * Turns a JSON event into the value an Avro schema expects, or into a list of problems.
 * Dependency-free: it walks the schema itself so that every problem names the field path
 * and a reason a client can act on.
 *
 * Besides Avro's own types it understands a few field attributes (Avro ignores unknown
 * attributes, so the schema stays standard):
 * - `ferry.minLength` / `ferry.maxLength` / `ferry.pattern` on strings,
 * - `ferry.minimum` / `ferry.maximum` on numbers, `ferry.maxItems` on arrays,
 * - `ferry.server: true`: set by the gateway, a client may not send it,
 * - `ferry.optional: true`: the client may leave it out and the gateway fills it in.
 * `timestamp-millis` fields take RFC 3339 strings; `uuid` fields take RFC 4122 strings.
 */

export interface FieldProblem {
  /** JSON path of the offending value, like `items[2].quantity`; empty for the whole event. */
  path: string;
  reason: string;
}

export type Schema = string | SchemaObject | Schema[];
export interface SchemaObject {
  type: Schema;
  name?: string;
  fields?: FieldSchema[];
  symbols?: string[];
  items?: Schema;
  values?: Schema;
  logicalType?: string;
  [attribute: string]: unknown;
}
export interface FieldSchema {
  name: string;
  type: Schema;
  default?: unknown;
  [attribute: string]: unknown;
}

export type ToAvroResult = { ok: true; value: Record<string, unknown> } | { ok: false; problems: FieldProblem[] };

const MAX_PROBLEMS = 20;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;

/**
 * @param serverValues values for `ferry.server` fields (always used) and `ferry.optional`
 *   fields (used when the client left them out).
 */
export function toAvro(schema: SchemaObject, input: unknown, serverValues: Record<string, unknown> = {}): ToAvroResult {
  const problems: FieldProblem[] = [];
  if (!isPlainObject(input)) {
    return { ok: false, problems: [{ path: '', reason: 'must be a JSON object' }] };
  }
  const fields = schema.fields ?? [];
  const topLevel: Record<string, unknown> = {};
  for (const f of fields) {
    if (f['ferry.server'] === true) {
      if (Object.hasOwn(input, f.name)) problems.push({ path: f.name, reason: 'is set by the gateway and may not be sent' });
      topLevel[f.name] = serverValues[f.name];
    } else if (f['ferry.optional'] === true && !Object.hasOwn(input, f.name)) {
      topLevel[f.name] = serverValues[f.name];
    }
  }
  const value = convertRecord(schema, input, '', problems, topLevel);
  if (problems.length > 0) return { ok: false, problems: problems.slice(0, MAX_PROBLEMS) };
  return { ok: true, value: value as Record<string, unknown> };
}

function convertRecord(
  schema: SchemaObject,
  input: Record<string, unknown>,
  path: string,
  problems: FieldProblem[],
  preset: Record<string, unknown> = {},
): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  const known = fieldNames(schema);
  for (const field of schema.fields ?? []) {
    const fieldPath = join(path, field.name);
    if (Object.hasOwn(preset, field.name)) {
      out[field.name] = preset[field.name];
      continue;
    }
    if (!Object.hasOwn(input, field.name) || input[field.name] === undefined) {
      if (Object.hasOwn(field, 'default')) {
        out[field.name] = structuredClone(field.default);
      } else {
        problems.push({ path: fieldPath, reason: 'is required' });
      }
      continue;
    }
    out[field.name] = convert(field.type, input[field.name], fieldPath, problems, field);
  }
  for (const name of Object.keys(input)) {
    if (!known.has(name)) problems.push({ path: join(path, name), reason: 'is not a field of this event' });
  }
  return out;
}

// Compiled once per schema and pattern, not per event: validation runs for every event of a batch.
const fieldNameSets = new WeakMap<SchemaObject, Set<string>>();
const patterns = new Map<string, RegExp>();

function fieldNames(schema: SchemaObject): Set<string> {
  let names = fieldNameSets.get(schema);
  if (!names) fieldNameSets.set(schema, (names = new Set((schema.fields ?? []).map((f) => f.name))));
  return names;
}

function compiled(pattern: string): RegExp {
  let re = patterns.get(pattern);
  if (!re) patterns.set(pattern, (re = new RegExp(pattern)));
  return re;
}

function convert(type: Schema, value: unknown, path: string, problems: FieldProblem[], field?: FieldSchema): unknown {
  if (problems.length >= MAX_PROBLEMS) return undefined;
  if (Array.isArray(type)) return convertUnion(type, value, path, problems, field);
  if (typeof type === 'string') return convertPrimitive(type, undefined, value, path, problems, field);
  switch (type.type) {
    case 'record': {
      if (!isPlainObject(value)) return fail(problems, path, 'must be an object');
      return convertRecord(type, value, path, problems);
    }
    case 'enum': {
      const symbols = type.symbols ?? [];
      if (typeof value !== 'string' || !symbols.includes(value)) {
        return fail(problems, path, `must be one of ${symbols.join(', ')}`);
      }
      return value;
    }
    case 'array': {
      if (!Array.isArray(value)) return fail(problems, path, 'must be an array');
      const maxItems = type['ferry.maxItems'];
      if (typeof maxItems === 'number' && value.length > maxItems) {
        return fail(problems, path, `must have at most ${maxItems} items`);
      }
      return value.map((v, i) => convert(type.items as Schema, v, `${path}[${i}]`, problems));
    }
    case 'map': {
      if (!isPlainObject(value)) return fail(problems, path, 'must be an object');
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = convert(type.values as Schema, v, join(path, k), problems);
      return out;
    }
    default:
      if (typeof type.type === 'string') return convertPrimitive(type.type, type.logicalType, value, path, problems, field);
      return convert(type.type, value, path, problems, field);
  }
}

function convertUnion(branches: Schema[], value: unknown, path: string, problems: FieldProblem[], field?: FieldSchema): unknown {
  if (value === null) {
    if (branches.includes('null')) return null;
    return fail(problems, path, 'may not be null');
  }
  const others = branches.filter((b) => b !== 'null');
  if (others.length !== 1) return fail(problems, path, 'uses a union this gateway cannot map from JSON');
  return convert(others[0] as Schema, value, path, problems, field);
}

function convertPrimitive(
  type: string,
  logicalType: string | undefined,
  value: unknown,
  path: string,
  problems: FieldProblem[],
  field?: FieldSchema,
): unknown {
  switch (type) {
    case 'null':
      return value === null ? null : fail(problems, path, 'must be null');
    case 'boolean':
      return typeof value === 'boolean' ? value : fail(problems, path, 'must be true or false');
    case 'string': {
      if (typeof value !== 'string') return fail(problems, path, 'must be a string');
      if (logicalType === 'uuid' && !UUID.test(value)) return fail(problems, path, 'must be a UUID');
      return checkString(value, path, problems, field);
    }
    case 'int':
    case 'long': {
      if (logicalType === 'timestamp-millis') return convertTimestamp(value, path, problems);
      if (typeof value !== 'number' || !Number.isInteger(value)) return fail(problems, path, 'must be a whole number');
      if (type === 'int' && (value < INT_MIN || value > INT_MAX)) return fail(problems, path, 'is out of range for a 32-bit integer');
      if (!Number.isSafeInteger(value)) return fail(problems, path, 'is too large');
      return checkNumber(value, path, problems, field);
    }
    case 'float':
    case 'double':
      if (typeof value !== 'number' || !Number.isFinite(value)) return fail(problems, path, 'must be a number');
      return checkNumber(value, path, problems, field);
    default:
      return fail(problems, path, `has a type (${type}) this gateway cannot map from JSON`);
  }
}

function convertTimestamp(value: unknown, path: string, problems: FieldProblem[]): unknown {
  // One match, then arithmetic: on the batch path this ran for every event, and Date.parse plus
  // a second split to catch rolled-over dates was the largest cost of validation.
  const m = typeof value === 'string' ? RFC3339.exec(value) : null;
  if (!m) return fail(problems, path, 'must be an RFC 3339 date-time like 2026-11-23T10:00:00Z');
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const h = Number(m[4]);
  const mi = Number(m[5]);
  const sec = Number(m[6]);
  const offH = m[8] ? Number(m[9]) : 0;
  const offM = m[8] ? Number(m[10]) : 0;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo - 1];
  // Impossible dates (Feb 30, hour 24) are refused, not rolled over into the next day.
  if (days === undefined || d < 1 || d > days || h > 23 || mi > 59 || sec > 59 || offH > 23 || offM > 59) {
    return fail(problems, path, 'is not a valid date-time');
  }
  const frac = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  let ms = Date.UTC(y, mo - 1, d, h, mi, sec, frac);
  // Date.UTC reads years 0-99 as 1900-1999.
  if (y < 100) ms = new Date(ms).setUTCFullYear(y);
  if (m[8]) ms -= (m[8] === '-' ? -1 : 1) * (offH * 60 + offM) * 60_000;
  return ms;
}

function checkString(value: string, path: string, problems: FieldProblem[], field?: FieldSchema): unknown {
  const min = field?.['ferry.minLength'];
  const max = field?.['ferry.maxLength'];
  const pattern = field?.['ferry.pattern'];
  if (typeof min === 'number' && value.length < min) {
    return fail(problems, path, min === 1 ? 'may not be empty' : `must be at least ${min} characters`);
  }
  if (typeof max === 'number' && value.length > max) return fail(problems, path, `must be at most ${max} characters`);
  if (typeof pattern === 'string' && !compiled(pattern).test(value)) {
    return fail(problems, path, `must match ${pattern}`);
  }
  return value;
}

function checkNumber(value: number, path: string, problems: FieldProblem[], field?: FieldSchema): unknown {
  const min = field?.['ferry.minimum'];
  const max = field?.['ferry.maximum'];
  if (typeof min === 'number' && value < min) return fail(problems, path, `must be at least ${min}`);
  if (typeof max === 'number' && value > max) return fail(problems, path, `must be at most ${max}`);
  return value;
}

function fail(problems: FieldProblem[], path: string, reason: string): undefined {
  problems.push({ path, reason });
  return undefined;
}

function join(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
