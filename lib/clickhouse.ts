/**
 * ClickHouse clients. CLICKHOUSE_URL's path names the database (`http://host:8123/ferry`).
 * The server here is 18.16: no query parameters (Code 115), so values that must appear in
 * SQL text go through `chString`/`chIdent` and everything else through inserts.
 */
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import { clickhouseDatabase } from './config.ts';

export function createClickhouse(url: string, options: { database?: string } = {}): ClickHouseClient {
  const u = new URL(url);
  const database = options.database ?? clickhouseDatabase(url);
  return createClient({
    url: u.origin,
    database,
    username: decodeURIComponent(u.username) || 'default',
    password: decodeURIComponent(u.password),
    request_timeout: 30_000,
    // 18.16 rejects settings it does not know, and the client sends none by default.
    clickhouse_settings: {},
  });
}

/** Creates the database through a connection whose default database is `default`. */
export async function ensureClickhouseDatabase(url: string, database: string): Promise<void> {
  const admin = createClickhouse(url, { database: 'default' });
  try {
    await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${chIdent(database)}` });
  } finally {
    await admin.close();
  }
}

export function chIdent(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not a ClickHouse identifier: ${name}`);
  return `\`${name}\``;
}

/** A ClickHouse string literal: backslash and quote escaped, as the SQL dialect requires. */
export function chString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
