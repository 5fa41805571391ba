/**
 * PostgreSQL array literals (`{"a","b"}`), passed as one text parameter and cast in SQL
 * (`$1::text[]`): still parameterized, and the server parses what it would parse from
 * postgres.js, but built with one join per column, where postgres.js quotes and escapes every
 * element with two regex replaces (and turns every timestamp back into a Date first).
 */

const SPECIAL = /["\\]/;

/** `s` with a backslash before each `"` and `\`, as a quoted element holds it; `s` itself when it has neither. */
export function escapeText(s: string): string {
  return SPECIAL.test(s) ? s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') : s;
}

/** The literal of text elements, each given as escapeText made it: every element quoted, whatever it holds. */
export function textArrayLiteral(escaped: readonly string[]): string {
  return escaped.length === 0 ? '{}' : `{"${escaped.join('","')}"}`;
}

/**
 * A JSON text as a whole quoted element. JSON.stringify quotes a string exactly as an array
 * literal does (a backslash before each `"` and `\`) as long as the string holds no control
 * character and no lone surrogate, which JSON.stringify's own output never holds.
 */
export function quotedJson(json: string): string {
  return JSON.stringify(json);
}

/** The literal of whole elements: quotedJson's, numbers, ISO timestamps (nothing unquoted may hold `{},"\`, a space or be NULL). */
export function arrayLiteral(elements: readonly (string | number)[]): string {
  return `{${elements.join(',')}}`;
}
