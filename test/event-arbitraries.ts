/**
 * fast-check arbitraries built from the Avro schemas and their limits (schemas/limits.ts):
 * events a client may send (hostile but storable Unicode, boundary numbers, timestamps,
 * lengths), and near-misses that break exactly one limit of one field.
 */
import fc from 'fast-check';
import { arrayLimits, codePointLength, isStorableString, numberLimits, stringLimits, timestampLimits } from '../schemas/limits.ts';
import type { Schema, SchemaObject } from '../schemas/validate.ts';

type Json = Record<string, unknown>;

// Characters that have broken pipelines: quotes and escapes, JSON and SQL metacharacters,
// control characters, BOM, bidi overrides, combining marks, noncharacters, astral emoji.
const SPECIALS = [
  '"',
  '\\',
  "'",
  '%',
  '_',
  ':',
  '*',
  '\n',
  '\r',
  '\t',
  '\u0001',
  '\u001f',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u2028',
  '\u2029',
  '\ufeff',
  '\u202e',
  '\u0301',
  '\ufffd',
  '\ufffe',
  '\uffff',
  'é',
  'ß',
  '中',
  '😀',
  '👩🏽‍💻',
  '\u{10ffff}',
  '\u{1d11e}',
];

// No whitespace: a pattern like the url's refuses it, and a string may be extended to its limit.
const char = fc
  .oneof(
    fc.constantFrom(...SPECIALS),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }),
  )
  .filter((c) => isStorableString(c) && !/\s/.test(c));
const anyChar = fc.oneof(char, fc.constantFrom(' ', '\n', '\u3000'));

/** The first `max` code points of `s`. */
function trim(s: string, max: number): string {
  return codePointLength(s) <= max ? s : [...s].slice(0, max).join('');
}

/** A storable string of `min` to `max` code points: short ones mostly, exactly `max` sometimes. */
function text(min: number, max: number, small: boolean, unit = anyChar): fc.Arbitrary<string> {
  const cap = Math.min(max, Math.max(min, small ? 4 : 12));
  const pieces = (lo: number, hi: number) => fc.array(unit, { minLength: lo, maxLength: hi }).map((cs) => trim(cs.join(''), hi));
  if (small || cap === max) return pieces(min, cap);
  return fc.oneof({ arbitrary: pieces(min, cap), weight: 4 }, { arbitrary: pieces(max, max), weight: 1 });
}

function stringArbitrary(field: Json | undefined, logicalType: string | undefined, small: boolean): fc.Arbitrary<string> {
  if (logicalType === 'uuid') return fc.uuid({ version: [1, 4, 7] });
  const l = stringLimits(field, logicalType);
  if (l.pattern === undefined) return text(l.minLength, l.maxLength, small);
  const re = new RegExp(l.pattern);
  // A matching string, extended with hostile text while it still matches (up to the limit).
  return fc
    .tuple(fc.stringMatching(re), text(0, l.maxLength, small, char))
    .map(([a, b]) => {
      const longer = trim(a + b, l.maxLength);
      return re.test(longer) ? longer : a;
    })
    .filter((s) => isStorableString(s) && codePointLength(s) >= l.minLength && codePointLength(s) <= l.maxLength && re.test(s));
}

function integerArbitrary(type: string, field: Json | undefined): fc.Arbitrary<number> {
  const { minimum, maximum } = numberLimits(type, field);
  const edges = [minimum, maximum, minimum + 1, maximum - 1, 0, 1, 2 ** 31 - 1, 2 ** 32].filter((v) => v >= minimum && v <= maximum);
  return fc.oneof(
    fc.constantFrom(...edges),
    fc.integer({ min: minimum, max: Math.min(maximum, minimum + 10_000) }),
    fc.integer({ min: minimum, max: maximum }),
  );
}

const pad = (n: number) => String(n).padStart(2, '0');

/** RFC 3339 text of an instant within the limits: UTC with or without a fraction, or at an offset. */
function timestampArbitrary(): fc.Arbitrary<string> {
  const { minimum, maximum } = timestampLimits();
  const ms = fc.oneof(
    fc.constantFrom(minimum, maximum, maximum - 999, Date.UTC(2038, 0, 19, 3, 14, 8), Date.UTC(2000, 1, 29)),
    fc.integer({ min: minimum, max: maximum }),
  );
  return fc.tuple(ms, fc.constantFrom('iso', 'seconds', 'offset'), fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 })).map(([t, style, offset]) => {
    if (style === 'iso') return new Date(t).toISOString();
    if (style === 'seconds') return `${new Date(t - (t % 1000)).toISOString().slice(0, 19)}Z`;
    // The same instant written in local time at `offset` minutes east of UTC.
    const local = new Date(t + offset * 60_000).toISOString().slice(0, 23);
    return `${local}${offset < 0 ? '-' : '+'}${pad(Math.trunc(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  });
}

export interface EventOptions {
  /** Short strings and arrays: for the elements of a full-length array, to keep a body under its limit. */
  small?: boolean;
  /** At least one element in every array, and every field present (the near-misses mutate them). */
  complete?: boolean;
}

function typeArbitrary(type: Schema, field: Json | undefined, o: EventOptions): fc.Arbitrary<unknown> {
  if (Array.isArray(type)) {
    const others = type.filter((t) => t !== 'null');
    const inner = typeArbitrary(others[0]!, field, o);
    return type.includes('null') && !o.complete ? fc.option(inner, { nil: null }) : inner;
  }
  if (typeof type === 'string') return primitive(type, undefined, field, o);
  switch (type.type) {
    case 'record':
      return recordArbitrary(type, false, o);
    case 'enum':
      return fc.constantFrom(...(type.symbols ?? []));
    case 'array': {
      const { minItems, maxItems } = arrayLimits(type);
      const lo = Math.max(minItems, o.complete ? 1 : 0);
      const few = fc.array(typeArbitrary(type.items as Schema, undefined, o), { minLength: lo, maxLength: Math.min(maxItems, o.small ? 2 : 4) });
      if (o.small) return few;
      const full = fc.array(typeArbitrary(type.items as Schema, undefined, { ...o, small: true }), { minLength: maxItems, maxLength: maxItems });
      return fc.oneof({ arbitrary: few, weight: 6 }, { arbitrary: full, weight: 1 });
    }
    default:
      return typeof type.type === 'string' ? primitive(type.type, type.logicalType, field, o) : typeArbitrary(type.type, field, o);
  }
}

function primitive(type: string, logicalType: string | undefined, field: Json | undefined, o: EventOptions): fc.Arbitrary<unknown> {
  switch (type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'string':
      return stringArbitrary(field, logicalType, o.small === true);
    case 'int':
    case 'long':
      return logicalType === 'timestamp-millis' ? timestampArbitrary() : integerArbitrary(type, field);
    default:
      return fc.double({ noNaN: true, noDefaultInfinity: true });
  }
}

function recordArbitrary(schema: SchemaObject, top: boolean, o: EventOptions): fc.Arbitrary<Json> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  const requiredKeys: string[] = [];
  for (const f of schema.fields ?? []) {
    if (top && f['ferry.server'] === true) continue;
    model[f.name] = typeArbitrary(f.type, f as Json, o);
    const optional = top && (f['ferry.optional'] === true || Object.hasOwn(f, 'default'));
    if (!optional || o.complete) requiredKeys.push(f.name);
  }
  return fc.record(model, { requiredKeys }) as fc.Arbitrary<Json>;
}

/** JSON events a client may send for `schema`, every one within the limits. */
export function eventArbitrary(schema: SchemaObject, options: EventOptions = {}): fc.Arbitrary<Json> {
  return recordArbitrary(schema, true, options);
}

/** An event with one field pushed just past one limit, and the problem it must get. */
export interface NearMiss {
  event: Json;
  /** The problem's path, like `items[0].sku`. */
  field: string;
  reason: RegExp;
  what: string;
}

interface Break {
  value: (current: unknown) => unknown;
  reason: RegExp;
  what: string;
}

const replaceAt = (s: string, i: number, c: string) => {
  const cps = [...s];
  if (cps.length === 0) return c;
  cps[i % cps.length] = c;
  return cps.join('');
};

function stringBreaks(field: Json): fc.Arbitrary<Break> {
  const { maxLength } = stringLimits(field, undefined);
  return fc.oneof(
    fc.nat().map((i) => ({ value: (s: unknown) => replaceAt(String(s), i, '\0'), reason: /U\+0000/, what: 'NUL' })),
    fc.tuple(fc.nat(), fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff')).map(([i, c]) => ({
      value: (s: unknown) => replaceAt(String(s), i, c),
      reason: /unpaired surrogate/,
      what: 'lone surrogate',
    })),
    fc.constantFrom('x', '😀').map((c) => ({
      value: (s: unknown) => String(s) + c.repeat(Math.max(1, maxLength + 1 - codePointLength(String(s)))),
      reason: new RegExp(`at most ${maxLength} characters`),
      what: `too long (${c})`,
    })),
  );
}

function integerBreaks(type: string, field: Json): fc.Arbitrary<Break> {
  const { minimum, maximum } = numberLimits(type, field);
  const reason = /at least|at most|32-bit|too large/;
  return fc.constantFrom<Break>(
    { value: () => minimum - 1, reason, what: `below ${minimum}` },
    { value: () => maximum + 1, reason, what: `above ${maximum}` },
    { value: () => 2 ** 53, reason, what: '2^53' },
  );
}

function timestampBreaks(): fc.Arbitrary<Break> {
  const { minimum, maximum } = timestampLimits();
  const year1 = new Date(0).setUTCFullYear(1, 0, 1);
  return fc
    .oneof(
      fc.constantFrom(
        '0000-01-01T00:00:00Z',
        '1969-12-31T23:59:59.999Z',
        '1970-01-01T00:59:59+01:00',
        '2106-02-07T00:00:00Z',
        '2106-02-06T23:59:59-00:01',
        '9999-12-31T23:59:59Z',
      ),
      fc.integer({ min: year1, max: minimum - 1 }).map((t) => new Date(t).toISOString()),
      fc.integer({ min: maximum + 1, max: Date.UTC(9999, 11, 31) }).map((t) => new Date(t).toISOString()),
    )
    .map((t) => ({ value: () => t, reason: /must be between/, what: `timestamp ${t}` }));
}

interface Slot {
  path: (string | number)[];
  breaks: fc.Arbitrary<Break>;
}

function slots(schema: SchemaObject, prefix: (string | number)[] = []): Slot[] {
  const out: Slot[] = [];
  for (const f of schema.fields ?? []) {
    if (f['ferry.server'] === true) continue;
    const path = [...prefix, f.name];
    const t = (Array.isArray(f.type) ? f.type.find((x) => x !== 'null')! : f.type) as string | SchemaObject;
    const name = typeof t === 'string' ? t : t.type;
    const logical = typeof t === 'string' ? undefined : t.logicalType;
    if (name === 'string' && logical !== 'uuid') out.push({ path, breaks: stringBreaks(f as Json) });
    else if ((name === 'int' || name === 'long') && logical === 'timestamp-millis') out.push({ path, breaks: timestampBreaks() });
    else if (name === 'int' || name === 'long') out.push({ path, breaks: integerBreaks(name, f as Json) });
    else if (name === 'array' && typeof t === 'object' && !Array.isArray(t)) {
      const { maxItems } = arrayLimits(t);
      out.push({
        path,
        breaks: fc.constant({
          value: (a: unknown) => Array.from({ length: maxItems + 1 }, () => (a as unknown[])[0]),
          reason: new RegExp(`at most ${maxItems} items`),
          what: 'too many items',
        }),
      });
      const items = t.items as Schema;
      if (typeof items === 'object' && !Array.isArray(items) && items.type === 'record') out.push(...slots(items, [...path, 0]));
    }
  }
  return out;
}

const pathText = (path: (string | number)[]) => path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');

/** Valid events of `schema` with exactly one field pushed just past one limit. */
export function nearMissArbitrary(schema: SchemaObject): fc.Arbitrary<NearMiss> {
  const all = slots(schema);
  const broken = fc.integer({ min: 0, max: all.length - 1 }).chain((i) => fc.tuple(fc.constant(all[i]!), all[i]!.breaks));
  return fc.tuple(eventArbitrary(schema, { complete: true, small: true }), broken).map(([event, [slot, br]]) => {
    const copy = structuredClone(event);
    let parent = copy as Record<string | number, unknown>;
    for (const p of slot.path.slice(0, -1)) parent = parent[p] as Record<string | number, unknown>;
    const last = slot.path.at(-1)!;
    parent[last] = br.value(parent[last]);
    return { event: copy, field: pathText(slot.path), reason: br.reason, what: br.what };
  });
}
