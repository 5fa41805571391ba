/**
 * Schema evolution rules. Workers decode every registered version of a topic with its newest
 * schema (codec.ts), so each new version must read data written with every earlier one: what
 * Confluent calls BACKWARD_TRANSITIVE. avsc's resolver is the judge (the same one that decodes);
 * the walk below only finds the field to name when it refuses.
 */
import avro from 'avsc';
import type { Schema } from './validate.ts';

/** The compatibility level Ferry enforces on every subject (Confluent's name for it). */
export const COMPATIBILITY_LEVEL = 'BACKWARD_TRANSITIVE';

/**
 * Why `reader` cannot read data written with `writer`, naming the field (`items[].tax: ...`);
 * undefined when it can.
 */
export function backwardIncompatibility(reader: Schema | avro.Type, writer: Schema | avro.Type): string | undefined {
  const r = asType(reader);
  const w = asType(writer);
  try {
    r.createResolver(w);
    return undefined;
  } catch (err) {
    return explain(r, w, '', (err as Error).message);
  }
}

function asType(schema: Schema | avro.Type): avro.Type {
  return avro.Type.isType(schema) ? (schema as avro.Type) : avro.Type.forSchema(schema as avro.Schema);
}

function resolves(reader: avro.Type, writer: avro.Type): string | undefined {
  try {
    reader.createResolver(writer);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Descends to the innermost field whose types do not resolve. */
function explain(reader: avro.Type, writer: avro.Type, path: string, message: string): string {
  const at = (p: string) => (p ? `field ${p}` : 'the schema');
  if (reader instanceof avro.types.RecordType && writer instanceof avro.types.RecordType) {
    if (reader.name !== writer.name && !(reader.aliases ?? []).includes(writer.name!)) {
      return `${at(path)}: record ${reader.name} is not ${writer.name} (rename with an alias)`;
    }
    for (const field of reader.fields) {
      const fieldPath = path ? `${path}.${field.name}` : field.name;
      const old = writer.field(field.name) ?? field.aliases.map((a) => writer.field(a)).find(Boolean);
      if (!old) {
        if (field.defaultValue() === undefined) return `${at(fieldPath)} is new and has no default, so records written before it cannot be read`;
        continue;
      }
      const problem = resolves(field.type, old.type);
      if (problem) return explain(field.type, old.type, fieldPath, problem);
    }
  } else if (reader instanceof avro.types.ArrayType && writer instanceof avro.types.ArrayType) {
    return explain(reader.itemsType, writer.itemsType, `${path}[]`, resolves(reader.itemsType, writer.itemsType) ?? message);
  } else if (reader instanceof avro.types.MapType && writer instanceof avro.types.MapType) {
    const rv = reader.valuesType as avro.Type;
    const wv = writer.valuesType as avro.Type;
    return explain(rv, wv, `${path}{}`, resolves(rv, wv) ?? message);
  } else if (reader instanceof avro.types.EnumType && writer instanceof avro.types.EnumType) {
    const missing = writer.symbols.filter((s) => !reader.symbols.includes(s));
    if (missing.length > 0) {
      return `${at(path)}: enum ${reader.name} lost symbol${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which older records may hold`;
    }
  }
  return `${at(path)}: ${message}`;
}
