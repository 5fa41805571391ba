/**
 * Counter increments kept as plain numbers until prom-client collects (at every scrape), then
 * added to the Counter. prom-client's own `inc` checks the labels and builds and hashes a label
 * string on every call, which the gateway paid on every request.
 */
import type { Counter, LabelValues } from 'prom-client';

/** One series' increments not yet handed to the Counter. */
export interface PendingSeries {
  count: number;
}

export class PendingCounts<L extends string> {
  readonly #series: { labels: LabelValues<L>; pending: PendingSeries }[] = [];

  /** A series to add to (`series.count += n`): make one per label values and keep it. */
  series(labels: LabelValues<L>): PendingSeries {
    const pending = { count: 0 };
    this.#series.push({ labels, pending });
    return pending;
  }

  /** Adds what was counted since the last flush to `counter` (from its `collect`). */
  flush(counter: Counter<L>): void {
    for (const { labels, pending } of this.#series) {
      if (pending.count === 0) continue;
      counter.inc(labels, pending.count);
      pending.count = 0;
    }
  }
}
