/**
 * PostgreSQL SQLSTATEs that are not an event's fault, held once for both sides: the worker
 * (workers/errors.ts) holds a batch that failed with one of them instead of dead-lettering its
 * events, and ferry_apply_orders aborts its whole call on them instead of pinning them on an
 * event (ferry_transient_sqlstate, written from these lists by lib/migrate.ts).
 *
 * Those that pass with time: connection, resources, shutdown, conflicts. And a deployment gone
 * wrong, which an operator puts right: credentials (28), a missing database (3D000), a privilege
 * (42501, e.g. the TEMPORARY that ferry_apply_orders' search counter needs), a missing table or
 * function (42P01, 42883). Ferry's statements are fixed text with typed parameters, so no event
 * can cause these; dead-lettering every event of every batch while they last would be the worse
 * failure.
 */

/** Whole classes: the first two characters of a SQLSTATE. */
export const TRANSIENT_SQLSTATE_CLASSES: readonly string[] = ['08', '28', '53', '57', '58'];
export const TRANSIENT_SQLSTATES: readonly string[] = ['40001', '40P01', '55P03', '3D000', '42501', '42P01', '42883'];

export function isTransientSqlState(code: string): boolean {
  return TRANSIENT_SQLSTATE_CLASSES.includes(code.slice(0, 2)) || TRANSIENT_SQLSTATES.includes(code);
}
