/**
 * What the worker's PostgreSQL role must be allowed beyond its tables: creating temporary
 * objects, for the failure search's per-session counter (migration 006). PostgreSQL grants it
 * to everyone by default; hardened databases may revoke it. Without it every apply call fails
 * (42501, held as an outage: see errors.ts), so the worker refuses to start instead, saying what
 * to grant.
 */
import type { Sql } from 'postgres';

export class UnsafePostgresRoleError extends Error {
  readonly retriable = false;
}

export async function checkPostgresRole(sql: Sql): Promise<void> {
  const [row] = await sql<{ temp: boolean; db: string; role: string }[]>`
    SELECT has_database_privilege(current_database(), 'TEMPORARY') AS temp, current_database() AS db, current_user AS role`;
  if (!row!.temp) {
    throw new UnsafePostgresRoleError(
      `DATABASE_URL: role ${row!.role} may not create temporary objects in database ${
        row!.db
      }; the worker's failure search needs it (GRANT TEMPORARY ON DATABASE ... TO ...)`,
    );
  }
}
