/**
 * Counting a batch's events before parsing it: JSON.parse of a 1 MiB body of `[{},{},...]`
 * builds a quarter of a million objects only for MAX_BATCH_EVENTS to refuse them. These scans
 * build nothing and stop as soon as the count passes the limit. Malformed text may be counted
 * loosely; JSON.parse refuses it afterwards.
 */

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** Top-level elements of a JSON array, or a number past `stopAfter` once it is passed; undefined when the text is not an array. */
export function countArrayElements(text: string, stopAfter: number): number | undefined {
  let i = 0;
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  if (text.charCodeAt(i) !== 0x5b /* [ */) return undefined;
  let depth = 1;
  let commas = 0;
  let empty = true;
  let inString = false;
  for (i++; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (isSpace(c)) continue;
    if (depth === 1) {
      if (c === 0x5d /* ] */) break;
      if (c === 0x2c /* , */) {
        if (++commas >= stopAfter) return commas + 1;
        continue;
      }
      empty = false;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b /* [ { */) depth++;
    else if (c === 0x5d || c === 0x7d /* ] } */) depth--;
  }
  return empty ? 0 : commas + 1;
}

/** Non-blank lines of NDJSON, or `stopAfter + 1` once it is passed. */
export function countNdjsonLines(text: string, stopAfter: number): number {
  let count = 0;
  let blank = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) {
      if (!blank && ++count > stopAfter) return count;
      blank = true;
    } else if (blank && !isSpace(c)) blank = false;
  }
  return blank ? count : count + 1;
}
