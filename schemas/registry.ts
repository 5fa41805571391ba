/**
 * The schema registry kept in this folder: `registry.json` lists, per topic, the key field and
 * every schema version with its global id. Versions are appended, never edited.
 */
import { readFileSync } from 'node:fs';
import type { SchemaObject } from './validate.ts';

export interface SchemaVersion {
  id: number;
  version: number;
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

const here = new URL('./', import.meta.url);

export function loadRegistry(dir: URL = here): Registry {
  const file = JSON.parse(readFileSync(new URL('registry.json', dir), 'utf8')) as RegistryFile;
  const topics = new Map<string, TopicSchemas>();
  const byId = new Map<number, { topic: string; version: SchemaVersion }>();
  for (const [topic, entry] of Object.entries(file.topics)) {
    if (entry.versions.length === 0) throw new Error(`schema registry: topic ${topic} has no versions`);
    const versions = entry.versions.map((v) => ({
      id: v.id,
      version: v.version,
      schema: JSON.parse(readFileSync(new URL(v.file, dir), 'utf8')) as SchemaObject,
    }));
    for (const v of versions) {
      if (byId.has(v.id)) throw new Error(`schema registry: id ${v.id} is used twice`);
      byId.set(v.id, { topic, version: v });
    }
    topics.set(topic, { topic, key: entry.key, versions, latest: versions[versions.length - 1]! });
  }
  return { topics, byId };
}
