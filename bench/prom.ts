/**
 * Reading Prometheus histograms from a /metrics text page (the gateway's and the workers'), so
 * the benchmark can say where time went: Kafka acknowledgement inside a request, sink writes
 * inside a worker batch. Pure.
 */

export interface PromHistogram {
  name: string;
  /** Labels other than `le`, as `k="v",...` (empty when none). */
  labels: string;
  /** Cumulative counts per upper bound, ascending, +Inf last. */
  buckets: { le: number; count: number }[];
  sum: number;
  count: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;

/** Every histogram on the page, keyed `name{labels}`. */
export function parseHistograms(text: string): Map<string, PromHistogram> {
  const out = new Map<string, PromHistogram>();
  const get = (name: string, labels: string) => {
    const key = labels ? `${name}{${labels}}` : name;
    let h = out.get(key);
    if (!h) out.set(key, h = { name, labels, buckets: [], sum: 0, count: 0 });
    return h;
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const [, metric, rawLabels = '', value] = m;
    const labels = rawLabels.split(/,(?=[a-zA-Z_]+=")/).filter(Boolean);
    const rest = labels.filter((l) => !l.startsWith('le=')).join(',');
    if (metric!.endsWith('_bucket')) {
      const le = labels.find((l) => l.startsWith('le='))?.slice(4, -1);
      if (le === undefined) continue;
      get(metric!.slice(0, -7), rest).buckets.push({ le: le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), count: Number(value) });
    } else if (metric!.endsWith('_sum')) {
      get(metric!.slice(0, -4), rest).sum = Number(value);
    } else if (metric!.endsWith('_count')) {
      get(metric!.slice(0, -6), rest).count = Number(value);
    }
  }
  for (const [k, h] of out) {
    if (h.buckets.length === 0) out.delete(k);
    else h.buckets.sort((a, b) => a.le - b.le);
  }
  return out;
}

/** `after - before`, for the observations made between two scrapes. */
export function subtract(after: PromHistogram, before: PromHistogram | undefined): PromHistogram {
  if (!before) return after;
  return {
    ...after,
    sum: after.sum - before.sum,
    count: after.count - before.count,
    buckets: after.buckets.map((b) => ({ le: b.le, count: b.count - (before.buckets.find((x) => x.le === b.le)?.count ?? 0) })),
  };
}

/** Prometheus's histogram_quantile: linear within the bucket; the last finite bound if it falls in +Inf. */
export function quantile(h: PromHistogram, q: number): number {
  const total = h.buckets[h.buckets.length - 1]?.count ?? 0;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of h.buckets) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket > 0 ? prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket : b.le;
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

export interface HistogramDigest {
  count: number;
  mean: number;
  p50: number;
  p99: number;
}

export function digest(h: PromHistogram): HistogramDigest {
  return { count: h.count, mean: h.count ? h.sum / h.count : Number.NaN, p50: quantile(h, 0.5), p99: quantile(h, 0.99) };
}

/** Digests of the histograms whose name starts with one of `prefixes`, between two scrapes. */
export function digests(after: string, before: string | undefined, prefixes: string[]): Record<string, HistogramDigest> {
  const a = parseHistograms(after);
  const b = before ? parseHistograms(before) : new Map<string, PromHistogram>();
  const out: Record<string, HistogramDigest> = {};
  for (const [key, h] of a) if (prefixes.some((p) => h.name.startsWith(p))) out[key] = digest(subtract(h, b.get(key)));
  return out;
}
