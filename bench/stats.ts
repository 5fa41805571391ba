/**
 * Percentiles and latency histograms for the load test and the benchmark. Pure: no I/O.
 *
 * Percentiles are nearest-rank (the smallest value with at least p% of the samples at or below
 * it), the definition HdrHistogram and most load tools use, so p100 is the maximum and a
 * percentile is always a value that was observed (or, in the histogram, its bucket).
 */

/** Nearest-rank percentile of values sorted ascending; p in [0, 100]. NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be between 0 and 100, got ${p}`);
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  return sorted[rankOf(p, n) - 1]!;
}

/** 1-based nearest rank; the epsilon keeps 99.9 % of 1000 at 999 despite binary fractions. */
function rankOf(p: number, n: number): number {
  return Math.min(n, Math.max(1, Math.ceil((p * n) / 100 - 1e-9)));
}

export interface Summary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** The usual summary of a list of samples (any order; the input is not changed). */
export function summarize(values: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  return {
    count: n,
    min: n ? sorted[0]! : Number.NaN,
    mean: n ? sum / n : Number.NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: n ? sorted[n - 1]! : Number.NaN,
  };
}

/** Sub-buckets per power of two: values keep about three significant digits (error < 0.1 %). */
const SUB = 1024;

/**
 * A log-linear histogram of durations in milliseconds, stored in microseconds: exact below
 * 2.048 ms, then 1024 buckets per doubling. Bounded memory whatever the sample count, and
 * mergeable, like HdrHistogram with three significant digits.
 */
export class Histogram {
  #counts = new Float64Array(SUB * 2);
  #total = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = 0;

  get count(): number {
    return this.#total;
  }

  static #index(us: number): number {
    if (us < SUB * 2) return us;
    const shift = Math.floor(Math.log2(us)) - 10;
    return shift * SUB + Math.floor(us / 2 ** shift);
  }

  /** Lowest and highest microsecond value that falls in bucket `i`. */
  static #bounds(i: number): [number, number] {
    if (i < SUB * 2) return [i, i];
    const shift = Math.floor(i / SUB) - 1;
    const sub = i - shift * SUB;
    return [sub * 2 ** shift, (sub + 1) * 2 ** shift - 1];
  }

  /** Records `ms` (negative values count as 0) `times` times. */
  record(ms: number, times = 1): void {
    const us = Math.max(0, Math.round(ms * 1000));
    const i = Histogram.#index(us);
    if (i >= this.#counts.length) {
      const grown = new Float64Array(Math.max(i + 1, this.#counts.length * 2));
      grown.set(this.#counts);
      this.#counts = grown;
    }
    this.#counts[i]! += times;
    this.#total += times;
    this.#sum += (us / 1000) * times;
    if (us / 1000 < this.#min) this.#min = us / 1000;
    if (us / 1000 > this.#max) this.#max = us / 1000;
  }

  /**
   * Records a latency measured by a sender that meant to send one request every
   * `expectedIntervalMs`, correcting for coordinated omission the way HdrHistogram's
   * recordValueWithExpectedInterval does: a response that took L > interval stands for the
   * requests that would have been sent meanwhile, which would have waited L - interval,
   * L - 2 * interval, ... So a stall shows in the percentiles instead of hiding as one sample.
   */
  recordCorrected(ms: number, expectedIntervalMs: number): void {
    this.record(ms);
    if (!(expectedIntervalMs > 0)) return;
    for (let missing = ms - expectedIntervalMs; missing >= expectedIntervalMs; missing -= expectedIntervalMs) this.record(missing);
  }

  merge(other: Histogram): void {
    other.#forEach((i, n) => {
      const [lo] = Histogram.#bounds(i);
      this.record(lo / 1000, n);
    });
  }

  #forEach(fn: (index: number, count: number) => void): void {
    for (let i = 0; i < this.#counts.length; i++) if (this.#counts[i]) fn(i, this.#counts[i]!);
  }

  /** Nearest-rank percentile in ms (the upper edge of the bucket, so never optimistic). */
  percentile(p: number): number {
    if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be between 0 and 100, got ${p}`);
    if (this.#total === 0) return Number.NaN;
    const rank = rankOf(p, this.#total);
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(Histogram.#bounds(i)[1] / 1000, this.#max);
    }
    return this.#max;
  }

  summary(): Summary {
    const n = this.#total;
    return {
      count: n,
      min: n ? this.#min : Number.NaN,
      mean: n ? this.#sum / n : Number.NaN,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
      max: n ? this.#max : Number.NaN,
    };
  }

  /** Points of the percentile curve (HdrHistogram's "percentile distribution"), for charts. */
  distribution(): { percentile: number; ms: number }[] {
    if (this.#total === 0) return [];
    const ps = [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100];
    return ps.map((p) => ({ percentile: p, ms: this.percentile(p) }));
  }
}

/** Events per second between two points of a cumulative count series, or NaN. */
export function rateBetween(series: { t: number; n: number }[], fromN: number, toN: number): { rate: number; fromT: number; toT: number } {
  const at = series.findIndex((s) => s.n >= fromN);
  const to = series.find((s) => s.n >= toN);
  // When one sample crossed both levels (progress came in steps coarser than the window), the
  // window starts at the last sample below the first level instead.
  const from = at > 0 && to === series[at] ? series[at - 1] : series[at];
  if (!from || !to || to.t <= from.t) return { rate: Number.NaN, fromT: Number.NaN, toT: Number.NaN };
  return { rate: ((to.n - from.n) * 1000) / (to.t - from.t), fromT: from.t, toT: to.t };
}

/** Round for reports: 3 significant digits, integers kept whole. */
export function round(x: number): number {
  if (!Number.isFinite(x)) return x;
  if (Math.abs(x) >= 100) return Math.round(x);
  return Number(x.toPrecision(3));
}
