/**
 * PostgreSQL array literals (`{"a","b"}`), passed as one text parameter and cast in SQL
 * (`$1::text[]`): still parameterized, the server parses exactly what it would parse from
 * postgres.js, but each element costs one regex test here instead of two regex replaces and,
 * for timestamps, a Date round trip there. Elements are built one by one (arrayText,
 * arrayJson, arrayNumber; an ISO timestamp as it is) and joined by arrayLiteral.
 */

const SPECIAL = /["\\]/;
const SPECIALS = /["\\]/g;

/** A text element, always quoted: inside quotes only `"` and `\` need a backslash. */
export function arrayText(s: string): string {
  return SPECIAL.test(s) ? `"${s.replace(SPECIALS, '\\$&')}"` : `"${s}"`;
}

/**
 * A JSON text as a quoted element. JSON.stringify quotes a string exactly as an array literal
 * does (a backslash before each `"` and `\`) as long as the string holds no control character
 * and no lone surrogate, which JSON.stringify's own output never holds; it does so several times
 * faster than a regex replace.
 */
export function arrayJson(json: string): string {
  return JSON.stringify(json);
}

/** A number element; unquoted, which only digits, signs, `.` and `e` may be. */
export function arrayNumber(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`${n} is not a number PostgreSQL reads`);
  return String(n);
}

/** The literal of elements made by arrayText, arrayNumber or holding no `{},"\` or space. */
export function arrayLiteral(elements: readonly string[]): string {
  return `{${elements.join(',')}}`;
}
