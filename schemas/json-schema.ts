/**
 * The JSON Schema (2020-12, as OpenAPI 3.1 uses) of an Avro record: one walk of the schema,
 * with the limits validate.ts enforces (limits.ts), so the documented and the accepted events
 * are the same.
 */
import { arrayLimits, numberLimits, stringLimits, timestampLimits, timestampText } from './limits.ts';
import type { Schema, SchemaObject } from './validate.ts';

export type JsonSchema = Record<string, unknown>;

/**
 * - `request`: what a client sends: server-set fields left out, fields with a default or
 *   `ferry.optional` not required, timestamps as RFC 3339 text.
 * - `response`: the event as the gateway answers with it: every field present.
 */
export type JsonSchemaMode = 'request' | 'response';

const STORABLE = 'No U+0000 and no unpaired surrogates; lengths count code points.';

export function recordJsonSchema(schema: SchemaObject, mode: JsonSchemaMode = 'request'): JsonSchema {
  return convertRecord(schema, mode === 'request');
}

/** The JSON Schema of one field of a record, or undefined when it has no such field. */
export function fieldJsonSchema(schema: SchemaObject, name: string): JsonSchema | undefined {
  const f = schema.fields?.find((x) => x.name === name);
  return f ? convert(f.type, f) : undefined;
}

function convertRecord(schema: SchemaObject, request: boolean): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const f of schema.fields ?? []) {
    if (request && f['ferry.server'] === true) continue;
    const s = convert(f.type, f);
    const doc = [typeof f.doc === 'string' ? f.doc : '', s.description ?? ''].filter(Boolean).join(' ');
    if (doc) s.description = doc;
    if (request && f['ferry.optional'] === true) {
      s.description = `${s.description ? `${String(s.description)} ` : ''}Optional: the gateway assigns one when absent.`;
    }
    properties[f.name] = s;
    if (!request || (!Object.hasOwn(f, 'default') && f['ferry.optional'] !== true)) required.push(f.name);
  }
  return { type: 'object', properties, required, additionalProperties: false };
}

function convert(type: Schema, field: Record<string, unknown> = {}): JsonSchema {
  if (Array.isArray(type)) {
    const others = type.filter((t) => t !== 'null');
    const inner = others.length === 1 ? convert(others[0]!, field) : { oneOf: others.map((t) => convert(t)) };
    return type.includes('null') ? { anyOf: [inner, { type: 'null' }] } : inner;
  }
  if (typeof type === 'string') return primitive(type, undefined, field);
  switch (type.type) {
    case 'record':
      return convertRecord(type, false);
    case 'enum':
      return { type: 'string', enum: type.symbols ?? [] };
    case 'array': {
      const { minItems, maxItems } = arrayLimits(type);
      const s: JsonSchema = { type: 'array', items: convert(type.items as Schema) };
      if (minItems > 0) s.minItems = minItems;
      s.maxItems = maxItems;
      return s;
    }
    case 'map':
      return { type: 'object', additionalProperties: convert(type.values as Schema), propertyNames: { description: STORABLE } };
    default:
      return typeof type.type === 'string' ? primitive(type.type, type.logicalType, field) : convert(type.type, field);
  }
}

function primitive(type: string, logicalType: string | undefined, field: Record<string, unknown>): JsonSchema {
  switch (type) {
    case 'null':
      return { type: 'null' };
    case 'boolean':
      return { type: 'boolean' };
    case 'string': {
      if (logicalType === 'uuid') return { type: 'string', format: 'uuid' };
      const l = stringLimits(field, logicalType);
      const s: JsonSchema = { type: 'string' };
      if (l.minLength > 0) s.minLength = l.minLength;
      s.maxLength = l.maxLength;
      if (l.pattern !== undefined) s.pattern = l.pattern;
      s.description = STORABLE;
      return s;
    }
    case 'int':
    case 'long':
    case 'float':
    case 'double': {
      if (logicalType === 'timestamp-millis') {
        const { minimum, maximum } = timestampLimits();
        const [lo, hi] = [timestampText(minimum), timestampText(maximum)];
        // formatMinimum/formatMaximum: the date-time bounds as ajv-formats reads them.
        return {
          type: 'string',
          format: 'date-time',
          formatMinimum: lo,
          formatMaximum: hi,
          description: `RFC 3339, like 2026-11-23T10:00:00Z, from ${lo} to ${hi}.`,
        };
      }
      const l = numberLimits(type, field);
      const s: JsonSchema = { type: l.format ? 'integer' : 'number' };
      if (l.format) s.format = l.format;
      // Floats are bounded only by the schema's own attributes.
      if (l.format || typeof field['ferry.minimum'] === 'number') s.minimum = l.minimum;
      if (l.format || typeof field['ferry.maximum'] === 'number') s.maximum = l.maximum;
      return s;
    }
    default:
      return {};
  }
}
