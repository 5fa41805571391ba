/**
 * Plain SQL migrations. PostgreSQL takes an advisory lock so gateways and workers starting
 * together on several hosts do not race; ClickHouse DDL here is idempotent (IF NOT EXISTS).
 *
 * Versioned (migrations/<kind>/NNN_name.sql): tables and data (CREATE/ALTER TABLE, indexes,
 * sequences, grants, data fixes), applied once each in file-name order and recorded by name, so
 * a second run applies nothing. Only the name is recorded: a file already applied is never read
 * again, which is what let 004-009 lose the function text they once carried.
 *
 * Repeatable (migrations/postgres/repeatable/*.sql, as Flyway's R__ files): PostgreSQL functions,
 * each file the current text of one (CREATE OR REPLACE), edited in place instead of redefined by
 * a new versioned file. After the versioned ones, in the same transaction, every repeatable file
 * whose SHA-256 differs from the one recorded for its name in ferry_schema_repeatables is run
 * again, in name order. So versioned files must not call these functions (a fresh database has
 * none yet); dropping a function, or changing its arguments or result (which CREATE OR REPLACE
 * refuses), takes a DROP FUNCTION IF EXISTS at the top of its file. Placeholders `${name}` in a
 * repeatable file are filled in from `placeholders` below before the checksum, so changing a
 * value re-applies the file.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import postgres from 'postgres';
import type { ClickHouseClient } from '@clickhouse/client';
import { chIdent, createClickhouse, ensureClickhouseDatabase } from './clickhouse.ts';
import { clickhouseDatabase } from './config.ts';
import { fromRoot } from './paths.ts';
import { TRANSIENT_SQLSTATE_CLASSES, TRANSIENT_SQLSTATES } from './sqlstates.ts';

const migrationsDir = fromRoot('migrations/');

interface Migration {
  name: string;
  sql: string;
}

/** The `.sql` files of a folder, in name order (`name` without `.sql`). */
function sqlFiles(dir: URL): Migration[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => ({ name: f.replace(/\.sql$/, ''), sql: readFileSync(new URL(f, dir), 'utf8') }));
}

/** Values TypeScript shares with the repeatable files, as SQL text. */
const placeholders: Record<string, string> = {
  transient_sqlstate_classes: sqlList(TRANSIENT_SQLSTATE_CLASSES),
  transient_sqlstates: sqlList(TRANSIENT_SQLSTATES),
};

function sqlList(values: readonly string[]): string {
  return values.map((v) => `'${v.replace(/'/g, "''")}'`).join(', ');
}

function fillPlaceholders(sql: string, file: string): string {
  return sql.replace(/\$\{(\w+)\}/g, (_, name: string) => {
    const value = placeholders[name];
    if (value === undefined) throw new Error(`${file}: no placeholder \${${name}}`);
    return value;
  });
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

export interface PostgresMigrationOptions {
  /** The folder of versioned files, with repeatable/ inside (tests use a copy). */
  dir?: URL;
}

/** Returns what it applied: versioned names, then `repeatable/<name>` for each repeatable run. */
export async function migratePostgres(databaseUrl: string, options: PostgresMigrationOptions = {}): Promise<string[]> {
  const dir = options.dir ?? new URL('postgres/', migrationsDir);
  const versioned = sqlFiles(dir);
  const repeatable = sqlFiles(new URL('repeatable/', dir)).map((m) => ({ ...m, sql: fillPlaceholders(m.sql, `repeatable/${m.name}.sql`) }));
  await ensurePostgresDatabase(databaseUrl);
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const applied: string[] = [];
  try {
    await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(7281004)`;
      await tx`CREATE TABLE IF NOT EXISTS ferry_schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
      await tx`CREATE TABLE IF NOT EXISTS ferry_schema_repeatables (name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`;
      const done = new Set((await tx<{ version: string }[]>`SELECT version FROM ferry_schema_migrations`).map((r) => r.version));
      for (const m of versioned) {
        if (done.has(m.name)) continue;
        await tx.unsafe(m.sql);
        await tx`INSERT INTO ferry_schema_migrations (version) VALUES (${m.name})`;
        applied.push(m.name);
      }
      const checksums = new Map(
        (await tx<{ name: string; checksum: string }[]>`SELECT name, checksum FROM ferry_schema_repeatables`).map((r) => [r.name, r.checksum]),
      );
      for (const m of repeatable) {
        const checksum = createHash('sha256').update(m.sql).digest('hex');
        if (checksums.get(m.name) === checksum) continue;
        await tx.unsafe(m.sql);
        await tx`
          INSERT INTO ferry_schema_repeatables (name, checksum) VALUES (${m.name}, ${checksum})
          ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum, applied_at = now()`;
        applied.push(`repeatable/${m.name}`);
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
  for (const m of sqlFiles(new URL('clickhouse/', migrationsDir))) {
    if (done.has(m.name)) continue;
    for (const statement of m.sql.split(/;\s*$/m).map((s) => s.trim()).filter((s) => s.replace(/--.*$/gm, '').trim())) {
      await client.command({ query: statement });
    }
    await client.insert({ table, values: [{ version: m.name }], format: 'JSONEachRow' });
    applied.push(m.name);
  }
  return applied;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
