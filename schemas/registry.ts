/**
 * The schema registry kept in this folder: `registry.json` lists, per topic, the key field and
 * every schema version with its global id. Versions are appended, never edited. Registering a
 * schema means committing its `.avsc` file and entry here; the loader refuses a version that
 * cannot read every earlier one (compatibility.ts), so no process starts with it.
 */
import { readFileSync } from 'node:fs';
import { fromRoot } from '../lib/paths.ts';
import { backwardIncompatibility } from './compatibility.ts';
import type { SchemaObject } from './validate.ts';

export interface SchemaVersion {
  id: number;
  version: number;
  /** The `.avsc` file it was read from, relative to the registry folder. */
  file?: string;
  schema: SchemaObject;
}

export interface TopicSchemas {
  topic: string;
  /** Field whose value is the Kafka record key. */
  key: string;
  /** Oldest first; the last one is what the gateway writes with. */
  versions: SchemaVersion[];
  latest: SchemaVersion;
}

export interface Registry {
  topics: Map<string, TopicSchemas>;
  byId: Map<number, { topic: string; version: SchemaVersion }>;
}

interface RegistryFile {
  topics: Record<string, { key: string; versions: { id: number; version: number; file: string }[] }>;
}

const here = fromRoot('schemas/');

export function loadRegistry(dir: URL = here): Registry {
  const file = JSON.parse(readFileSync(new URL('registry.json', dir), 'utf8')) as RegistryFile;
  const topics = new Map<string, TopicSchemas>();
  const byId = new Map<number, { topic: string; version: SchemaVersion }>();
  for (const [topic, entry] of Object.entries(file.topics)) {
    if (entry.versions.length === 0) throw new Error(`schema registry: topic ${topic} has no versions`);
    const versions = entry.versions.map((v) => ({
      id: v.id,
      version: v.version,
      file: v.file,
      schema: JSON.parse(readFileSync(new URL(v.file, dir), 'utf8')) as SchemaObject,
    }));
    versions.forEach((v, i) => {
      if (!Number.isInteger(v.id) || v.id < 1 || v.id > 0x7fffffff) throw new Error(`schema registry: ${topic} id ${v.id} is not a positive 32-bit integer`);
      if (byId.has(v.id)) throw new Error(`schema registry: id ${v.id} is used twice`);
      if (i > 0 && !(v.version > versions[i - 1]!.version)) {
        throw new Error(`schema registry: ${topic} versions must increase, ${v.version} follows ${versions[i - 1]!.version}`);
      }
      byId.set(v.id, { topic, version: v });
      // Workers read every earlier version with the newest one, so each must still read all of them.
      for (const old of versions.slice(0, i)) {
        const problem = backwardIncompatibility(v.schema, old.schema);
        if (problem) {
          throw new Error(
            `schema registry: ${topic} version ${v.version} (${v.file}) cannot read records written with version ${old.version} (${old.file}): ${problem}`,
          );
        }
      }
    });
    topics.set(topic, { topic, key: entry.key, versions, latest: versions[versions.length - 1]! });
  }
  return { topics, byId };
}
