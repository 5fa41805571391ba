/** Copies of the committed schema registry with extra versions, for evolution tests. */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FieldSchema, SchemaObject } from '../schemas/validate.ts';

const schemasDir = new URL('../schemas/', import.meta.url);

interface RegistryFile {
  topics: Record<string, { key: string; versions: { id: number; version: number; file: string }[] }>;
}

export interface ExtraVersion {
  topic: string;
  schema: SchemaObject;
  /** @defaultValue one more than the largest id in the registry */
  id?: number;
}

export interface FixtureRegistry {
  /** The folder to pass to loadRegistry (a file: URL ending in `/`). */
  dir: URL;
  /** The ids given to the extra versions, in order. */
  ids: number[];
  cleanup: () => void;
}

/** The committed registry plus `extra` versions appended (as `<topic>.v<N>.avsc`), in a temp folder. */
export function fixtureRegistry(extra: ExtraVersion[]): FixtureRegistry {
  const path = mkdtempSync(join(tmpdir(), 'ferry-schemas-'));
  const file = JSON.parse(readFileSync(new URL('registry.json', schemasDir), 'utf8')) as RegistryFile;
  for (const entry of Object.values(file.topics)) for (const v of entry.versions) copyFileSync(new URL(v.file, schemasDir), join(path, v.file));
  let nextId = Math.max(...Object.values(file.topics).flatMap((t) => t.versions.map((v) => v.id))) + 1;
  const ids: number[] = [];
  for (const e of extra) {
    const versions = file.topics[e.topic]!.versions;
    const version = versions.at(-1)!.version + 1;
    const id = e.id ?? nextId++;
    const name = `${e.topic}.v${version}.avsc`;
    writeFileSync(join(path, name), JSON.stringify(e.schema, null, 2));
    versions.push({ id, version, file: name });
    ids.push(id);
  }
  writeFileSync(join(path, 'registry.json'), JSON.stringify(file, null, 2));
  return { dir: pathToFileURL(`${path}/`), ids, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** `schema` with its fields changed by `map` (given a copy). */
export function withFields(schema: SchemaObject, map: (fields: FieldSchema[]) => FieldSchema[]): SchemaObject {
  return { ...schema, fields: map(structuredClone(schema.fields!)) };
}

/** The committed schema of `topic` at `version` (default the first). */
export function committedSchema(topic: string, version = 1): SchemaObject {
  const file = JSON.parse(readFileSync(new URL('registry.json', schemasDir), 'utf8')) as RegistryFile;
  const v = file.topics[topic]!.versions.find((x) => x.version === version)!;
  return JSON.parse(readFileSync(new URL(v.file, schemasDir), 'utf8')) as SchemaObject;
}
