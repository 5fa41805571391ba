/**
 * Text from queues and records printed to an operator's terminal: a key or error message may
 * carry escape sequences (ESC [ ...) that repaint the screen, carriage returns that hide a line,
 * or bidi overrides that reorder it. Everything not printable is shown as an escape instead.
 */

// Controls, format characters (bidi overrides), surrogates, private-use and unassigned code
// points, and the line and paragraph separators.
const NON_PRINTABLE = /[\p{C}\p{Zl}\p{Zp}]/gu;

const NAMED: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function escapeChar(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  let out = '';
  for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
}

/** One field for a line of output: non-printables and backslashes escaped, so the output is unambiguous. */
export function printable(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(NON_PRINTABLE, escapeChar);
}

/** Indented JSON with what JSON.stringify leaves raw (C1 controls, bidi overrides, separators) escaped as \uXXXX. */
export function printableJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(NON_PRINTABLE, (ch) => (ch === '\n' ? ch : escapeChar(ch)));
}
