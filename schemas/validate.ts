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
 * Every value is also held to what every sink can store (limits.ts): strings without NUL or
 * unpaired surrogates, timestamps ClickHouse can file, integers JS holds exactly.
 */
import { arrayLimits, codePointLength, numberLimits, stringLimits, timestampLimits, timestampText, unstorableReason } from './limits.ts';

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

/**
 * @param serverValues values for `ferry.server` fields (always used) and `ferry.optional`
 *   fields (used when the client left them out).
 */
export function toAvro(schema: SchemaObject, input: unknown, serverValues: Record<string, unknown> = {}): ToAvroResult {
  if (!isPlainObject(input)) {
    return { ok: false, problems: [{ path: '', reason: 'must be a JSON object' }] };
  }
  const problems: FieldProblem[] = [];
  const value = compiledRecord(schema)(input, [], problems, serverValues);
  if (problems.length > 0) return { ok: false, problems: problems.slice(0, MAX_PROBLEMS) };
  return { ok: true, value };
}

// Validation runs for every event of every batch, so each schema is compiled once into a tree
// of closures: every decision that depends only on the schema (field kinds, limits, messages,
// patterns) is made here, not per event. Paths are kept as a stack of segments and joined into
// text only when a problem is reported: the valid path allocates no strings.
type Path = (string | number)[];
type Converter = (value: unknown, path: Path, problems: FieldProblem[]) => unknown;
type RecordConverter = (input: Record<string, unknown>, path: Path, problems: FieldProblem[], server?: Record<string, unknown>) => Record<string, unknown>;

const compiledRecords = new WeakMap<SchemaObject, RecordConverter>();

function compiledRecord(schema: SchemaObject): RecordConverter {
  let c = compiledRecords.get(schema);
  if (!c) compiledRecords.set(schema, c = compileRecord(schema));
  return c;
}

const NORMAL = 0;
const SERVER = 1;
const OPTIONAL = 2;

interface CompiledField {
  name: string;
  kind: typeof NORMAL | typeof SERVER | typeof OPTIONAL;
  hasDefault: boolean;
  /** Returns the default; a fresh copy when it is an object or array, so no event shares a mutable default. */
  makeDefault: () => unknown;
  convert: Converter;
}

function compileRecord(schema: SchemaObject): RecordConverter {
  const fields: CompiledField[] = (schema.fields ?? []).map((f) => {
    const d = f.default;
    const fresh = typeof d === 'object' && d !== null;
    return {
      name: f.name,
      kind: f['ferry.server'] === true ? SERVER : f['ferry.optional'] === true ? OPTIONAL : NORMAL,
      hasDefault: Object.hasOwn(f, 'default'),
      makeDefault: fresh ? () => structuredClone(d) : () => d,
      convert: compileType(f.type, f),
    };
  });
  const known = new Set(fields.map((f) => f.name));
  const hasOwn = Object.hasOwn;
  return function convertRecord(input, path, problems, server) {
    const out: Record<string, unknown> = {};
    // Own fields of the input that are fields of the schema; fewer than the input has means unknown ones.
    let matched = 0;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      const present = hasOwn(input, f.name);
      if (present) matched++;
      // Server and optional fields exist only at the top level, where `server` is given.
      if (server !== undefined && f.kind !== NORMAL) {
        if (f.kind === SERVER) {
          if (present) fail(problems, path, 'is set by the gateway and may not be sent', f.name);
          out[f.name] = server[f.name];
          continue;
        }
        if (!present) {
          out[f.name] = server[f.name];
          continue;
        }
      }
      const v = present ? input[f.name] : undefined;
      if (v === undefined) {
        if (f.hasDefault) out[f.name] = f.makeDefault();
        else fail(problems, path, 'is required', f.name);
        continue;
      }
      if (problems.length >= MAX_PROBLEMS) continue;
      path.push(f.name);
      out[f.name] = f.convert(v, path, problems);
      path.pop();
    }
    let own = 0;
    for (const name in input) if (hasOwn(input, name)) own++;
    if (own !== matched) {
      for (const name of Object.keys(input)) if (!known.has(name)) fail(problems, path, 'is not a field of this event', name);
    }
    return out;
  };
}

function compileType(type: Schema, field?: FieldSchema): Converter {
  if (Array.isArray(type)) return compileUnion(type, field);
  if (typeof type === 'string') return compilePrimitive(type, undefined, field);
  switch (type.type) {
    case 'record': {
      const record = compiledRecord(type);
      return (value, path, problems) => (isPlainObject(value) ? record(value, path, problems) : fail(problems, path, 'must be an object'));
    }
    case 'enum': {
      const symbols = type.symbols ?? [];
      const allowed = new Set(symbols);
      const reason = `must be one of ${symbols.join(', ')}`;
      return (value, path, problems) => (typeof value === 'string' && allowed.has(value) ? value : fail(problems, path, reason));
    }
    case 'array': {
      const items = compileType(type.items as Schema);
      const { minItems, maxItems } = arrayLimits(type);
      const tooMany = `must have at most ${maxItems} items`;
      const tooFew = `must have at least ${minItems} items`;
      return (value, path, problems) => {
        if (!Array.isArray(value)) return fail(problems, path, 'must be an array');
        if (value.length > maxItems) return fail(problems, path, tooMany);
        if (value.length < minItems) return fail(problems, path, tooFew);
        const out = new Array<unknown>(value.length);
        for (let i = 0; i < value.length; i++) {
          if (problems.length >= MAX_PROBLEMS) break;
          path.push(i);
          out[i] = items(value[i], path, problems);
          path.pop();
        }
        return out;
      };
    }
    case 'map': {
      const values = compileType(type.values as Schema);
      return (value, path, problems) => {
        if (!isPlainObject(value)) return fail(problems, path, 'must be an object');
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) {
          if (problems.length >= MAX_PROBLEMS) break;
          path.push(k);
          const bad = unstorableReason(k);
          out[k] = bad ? fail(problems, path, `key ${bad}`) : values(v, path, problems);
          path.pop();
        }
        return out;
      };
    }
    default:
      if (typeof type.type === 'string') return compilePrimitive(type.type, type.logicalType, field);
      return compileType(type.type, field);
  }
}

function compileUnion(branches: Schema[], field?: FieldSchema): Converter {
  const nullable = branches.includes('null');
  const others = branches.filter((b) => b !== 'null');
  const only = others.length === 1 ? compileType(others[0] as Schema, field) : undefined;
  return (value, path, problems) => {
    if (value === null) return nullable ? null : fail(problems, path, 'may not be null');
    if (!only) return fail(problems, path, 'uses a union this gateway cannot map from JSON');
    return only(value, path, problems);
  };
}

function compilePrimitive(type: string, logicalType: string | undefined, field?: FieldSchema): Converter {
  switch (type) {
    case 'null':
      return (value, path, problems) => (value === null ? null : fail(problems, path, 'must be null'));
    case 'boolean':
      return (value, path, problems) => (typeof value === 'boolean' ? value : fail(problems, path, 'must be true or false'));
    case 'string': {
      const uuid = logicalType === 'uuid';
      const check = compileStringChecks(field, logicalType);
      return (value, path, problems) => {
        if (typeof value !== 'string') return fail(problems, path, 'must be a string');
        if (uuid) return UUID.test(value) ? value : fail(problems, path, 'must be a UUID');
        return check(value, path, problems);
      };
    }
    case 'int':
    case 'long': {
      if (logicalType === 'timestamp-millis') return compileTimestamp();
      const check = compileNumberChecks(type, field);
      const int = type === 'int';
      const { minimum, maximum } = numberLimits(type, undefined);
      return (value, path, problems) => {
        if (typeof value !== 'number' || !Number.isInteger(value)) return fail(problems, path, 'must be a whole number');
        if (int && (value < minimum || value > maximum)) return fail(problems, path, 'is out of range for a 32-bit integer');
        if (!Number.isSafeInteger(value)) return fail(problems, path, `is too large (beyond ±${maximum})`);
        return check(value, path, problems);
      };
    }
    case 'float':
    case 'double': {
      const check = compileNumberChecks(type, field);
      return (value, path, problems) => {
        if (typeof value !== 'number' || !Number.isFinite(value)) return fail(problems, path, 'must be a number');
        return check(value, path, problems);
      };
    }
    default: {
      const reason = `has a type (${type}) this gateway cannot map from JSON`;
      return (_value, path, problems) => fail(problems, path, reason);
    }
  }
}

/** Two ASCII digits at `i` as a number, or -1. */
/**
 * Epoch milliseconds of a UTC calendar time, or NaN when it does not exist: impossible dates
 * (Feb 30, hour 24) are refused, not rolled over into the next day as Date.UTC would.
 */
function utcMillis(y: number, mo: number, d: number, h: number, mi: number, sec: number, ms: number): number {
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo - 1];
  if (days === undefined || d < 1 || d > days || h > 23 || mi > 59 || sec > 59) return NaN;
  const t = Date.UTC(y, mo - 1, d, h, mi, sec, ms);
  // Date.UTC reads years 0-99 as 1900-1999.
  return y < 100 ? new Date(t).setUTCFullYear(y) : t;
}

function twoDigits(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * The shape nearly every client sends, `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, read character by
 * character: a quarter of the time of the regular expression below, for every event of every
 * batch. Anything else (offsets, lower case, a space) returns undefined and takes that path.
 */
function utcTimestamp(s: string): number | undefined {
  const n = s.length;
  if (n < 20 || n > 30 || s.charCodeAt(n - 1) !== 90 /* Z */) return undefined;
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return undefined;
  const y1 = twoDigits(s, 0);
  const y2 = twoDigits(s, 2);
  const mo = twoDigits(s, 5);
  const d = twoDigits(s, 8);
  const h = twoDigits(s, 11);
  const mi = twoDigits(s, 14);
  const sec = twoDigits(s, 17);
  if ((y1 | y2 | mo | d | h | mi | sec) < 0) return undefined;
  let frac = 0;
  if (n !== 20) {
    // `.` and 1 to 9 digits; milliseconds are the first three, the rest is dropped.
    if (s.charCodeAt(19) !== 46 || n < 22) return undefined;
    for (let i = 20; i < n - 1; i++) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) return undefined;
      if (i < 23) frac = frac * 10 + c;
    }
    for (let i = n - 1; i < 23; i++) frac *= 10;
  }
  return utcMillis(y1 * 100 + y2, mo, d, h, mi, sec, frac);
}

function compileTimestamp(): Converter {
  const { minimum, maximum } = timestampLimits();
  const outside = `must be between ${timestampText(minimum)} and ${timestampText(maximum)}`;
  return (value, path, problems) => {
    const ms = convertTimestamp(value, path, problems);
    if (ms === undefined) return undefined;
    return ms < minimum || ms > maximum ? fail(problems, path, outside) : ms;
  };
}

function convertTimestamp(value: unknown, path: Path, problems: FieldProblem[]): number | undefined {
  if (typeof value === 'string') {
    const fast = utcTimestamp(value);
    if (fast !== undefined) return Number.isNaN(fast) ? fail(problems, path, 'is not a valid date-time') : fast;
  }
  // One match, then arithmetic: on the batch path this ran for every event, and Date.parse plus
  // a second split to catch rolled-over dates was the largest cost of validation.
  const m = typeof value === 'string' ? RFC3339.exec(value) : null;
  if (!m) return fail(problems, path, 'must be an RFC 3339 date-time like 2026-11-23T10:00:00Z');
  const offH = m[8] ? Number(m[9]) : 0;
  const offM = m[8] ? Number(m[10]) : 0;
  const frac = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  const ms = utcMillis(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), frac);
  if (Number.isNaN(ms) || offH > 23 || offM > 59) return fail(problems, path, 'is not a valid date-time');
  return m[8] ? ms - (m[8] === '-' ? -1 : 1) * (offH * 60 + offM) * 60_000 : ms;
}

function compileStringChecks(
  field: FieldSchema | undefined,
  logicalType: string | undefined,
): (value: string, path: Path, problems: FieldProblem[]) => unknown {
  const { minLength: lo, maxLength: hi, pattern } = stringLimits(field, logicalType);
  const re = pattern !== undefined ? new RegExp(pattern) : undefined;
  const short = lo === 1 ? 'may not be empty' : `must be at least ${lo} characters`;
  const long = `must be at most ${hi} characters`;
  const mismatch = `must match ${String(pattern)}`;
  return (value, path, problems) => {
    // UTF-16 length bounds the code points from above: count them only when it matters.
    const n = value.length;
    if (n < lo || (lo > 1 && n < 2 * lo && codePointLength(value) < lo)) return fail(problems, path, short);
    if (n > hi && codePointLength(value) > hi) return fail(problems, path, long);
    const bad = unstorableReason(value);
    if (bad !== undefined) return fail(problems, path, bad);
    if (re !== undefined && !re.test(value)) return fail(problems, path, mismatch);
    return value;
  };
}

function compileNumberChecks(type: string, field?: FieldSchema): (value: number, path: Path, problems: FieldProblem[]) => unknown {
  const { minimum: lo, maximum: hi } = numberLimits(type, field);
  const below = `must be at least ${lo}`;
  const above = `must be at most ${hi}`;
  return (value, path, problems) => {
    if (value < lo) return fail(problems, path, below);
    if (value > hi) return fail(problems, path, above);
    return value;
  };
}

/** Records a problem at `path` (plus `last`, a field name, when given). */
function fail(problems: FieldProblem[], path: Path, reason: string, last?: string): undefined {
  problems.push({ path: pathText(path, last), reason });
  return undefined;
}

/** `items[2].quantity`: names joined by dots, array indexes in brackets. */
function pathText(path: Path, last?: string): string {
  let text = '';
  for (const segment of path) text = typeof segment === 'number' ? `${text}[${segment}]` : text === '' ? segment : `${text}.${segment}`;
  if (last !== undefined) text = text === '' ? last : `${text}.${last}`;
  return text;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
