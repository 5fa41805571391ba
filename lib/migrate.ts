/**
 * Plain SQL migrations, applied in file-name order and recorded, so a second run applies
 * nothing. PostgreSQL takes an advisory lock so gateways and workers starting together on
 * several hosts do not race; ClickHouse DDL here is idempotent (IF NOT EXISTS).
 */
import { readdirSync, readFileSync } from 'node:fs';
import postgres from 'postgres';
import type { ClickHouseClient } from '@clickhouse/client';
import { chIdent, createClickhouse, ensureClickhouseDatabase } from './clickhouse.ts';
import { clickhouseDatabase } from './config.ts';

const migrationsDir = new URL('../migrations/', import.meta.url);

function files(kind: 'postgres' | 'clickhouse'): { version: string; sql: string }[] {
  const dir = new URL(`${kind}/`, migrationsDir);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => ({ version: f.replace(/\.sql$/, ''), sql: readFileSync(new URL(f, dir), 'utf8') }));
}

/** Creates the database named in the URL when it is missing (connecting to `postgres`). */
export async function ensurePostgresDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name) return;
  url.pathname = '/postgres';
  const admin = postgres(url.toString(), { max: 1, onnotice: () => {} });
  try {
    const [row] = await admin`SELECT 1 AS found FROM pg_database WHERE datname = ${name}`;
    if (!row) {
      await admin.unsafe(`CREATE DATABASE ${quoteIdent(name)}`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err; // created meanwhile by another process
      });
    }
  } finally {
    await admin.end();
  }
}

export async function migratePostgres(databaseUrl: string): Promise<string[]> {
  await ensurePostgresDatabase(databaseUrl);
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const applied: string[] = [];
  try {
    await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(7281004)`;
      await tx`CREATE TABLE IF NOT EXISTS ferry_schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
      const done = new Set((await tx<{ version: string }[]>`SELECT version FROM ferry_schema_migrations`).map((r) => r.version));
      for (const m of files('postgres')) {
        if (done.has(m.version)) continue;
        await tx.unsafe(m.sql);
        await tx`INSERT INTO ferry_schema_migrations (version) VALUES (${m.version})`;
        applied.push(m.version);
      }
    });
  } finally {
    await sql.end();
  }
  return applied;
}

export async function migrateClickhouse(url: string): Promise<string[]> {
  const database = clickhouseDatabase(url);
  await ensureClickhouseDatabase(url, database);
  const client = createClickhouse(url);
  try {
    return await applyClickhouse(client, `${chIdent(database)}.ferry_migrations`);
  } finally {
    await client.close();
  }
}

async function applyClickhouse(client: ClickHouseClient, table: string): Promise<string[]> {
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS ${table} (version String, applied_at DateTime DEFAULT now()) ENGINE = ReplacingMergeTree ORDER BY version`,
  });
  const rs = await client.query({ query: `SELECT DISTINCT version FROM ${table}`, format: 'JSONEachRow' });
  const done = new Set((await rs.json<{ version: string }>()).map((r) => r.version));
  const applied: string[] = [];
  for (const m of files('clickhouse')) {
    if (done.has(m.version)) continue;
    for (const statement of m.sql.split(/;\s*$/m).map((s) => s.trim()).filter((s) => s.replace(/--.*$/gm, '').trim())) {
      await client.command({ query: statement });
    }
    await client.insert({ table, values: [{ version: m.version }], format: 'JSONEachRow' });
    applied.push(m.version);
  }
  return applied;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
