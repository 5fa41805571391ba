/** Just enough of the Prometheus text format to read Ferry's own metrics: samples with labels. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = Number(m[3]);
    if (!Number.isNaN(value)) out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** The sum of a metric's samples whose labels include `where`. */
export function total(samples: Sample[], name: string, where: Record<string, string> = {}, unless?: (labels: Record<string, string>) => boolean): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(where).some(([k, v]) => s.labels[k] !== v)) continue;
    if (unless?.(s.labels)) continue;
    sum += s.value;
  }
  return sum;
}

/** Cumulative histogram buckets (`le` → count) of a metric, summed over the samples matching `where`. */
export function buckets(samples: Sample[], name: string, where: Record<string, string> = {}): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket`) continue;
    if (Object.entries(where).some(([k, v]) => s.labels[k] !== v)) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    out.set(le, (out.get(le) ?? 0) + s.value);
  }
  return out;
}

/**
 * A quantile from cumulative buckets, as Prometheus's histogram_quantile does (linear within the
 * bucket); undefined without observations. `since` subtracts an earlier reading: the quantile of
 * what was observed in between.
 */
export function quantile(q: number, now: Map<number, number>, since?: Map<number, number>): number | undefined {
  const les = [...now.keys()].sort((a, b) => a - b);
  const count = (le: number) => (now.get(le) ?? 0) - (since?.get(le) ?? 0);
  const all = les.length ? count(les[les.length - 1]!) : 0;
  if (all <= 0) return undefined;
  const rank = q * all;
  let prevLe = 0;
  let prevCount = 0;
  for (const le of les) {
    const c = count(le);
    if (c >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(1, c - prevCount);
    }
    prevLe = le;
    prevCount = c;
  }
  return prevLe;
}
