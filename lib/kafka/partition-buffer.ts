/**
 * One partition's fetched records that no handler has been given yet, in offset order.
 *
 * Read slowly: librdkafka can hand over a record a second time. Pausing a partition (the
 * consumer's, or librdkafka's own while a rebalance callback runs) makes it fetch again from the
 * last record the application took, and a record taken in the same instant as the pause is
 * fetched once more on resume. A partition's records only move forward, so a record below the
 * next expected offset is such a repeat and is dropped here, which keeps every handler call in
 * offset order and free of records an earlier call already had.
 */
/** Taken records are released in chunks: cheaper than shifting the array for every batch. */
const COMPACT_AFTER = 4096;

export class PartitionBuffer<T extends { offset: number }> {
  #records: T[] = [];
  #head = 0;
  /** The lowest offset the next fetched record may have; -1 before the first. */
  #next = -1;

  /** Records buffered and not taken yet. */
  get size(): number {
    return this.#records.length - this.#head;
  }

  /** The offset of the next record expected from librdkafka; -1 before the first. */
  get next(): number {
    return this.#next;
  }

  /** Appends a fetched record; false when it repeats one this buffer already had (dropped). */
  push(m: T): boolean {
    if (m.offset < this.#next) return false;
    this.#next = m.offset + 1;
    this.#records.push(m);
    return true;
  }

  /** Takes up to `max` of the oldest records. */
  take(max: number): T[] {
    const end = Math.min(this.#records.length, this.#head + max);
    const batch = this.#records.slice(this.#head, end);
    if (end === this.#records.length) {
      this.#records = [];
      this.#head = 0;
    } else {
      this.#head = end;
      if (this.#head >= COMPACT_AFTER && this.#head * 2 >= this.#records.length) {
        this.#records = this.#records.slice(this.#head);
        this.#head = 0;
      }
    }
    return batch;
  }

  /** Drops what is buffered; the repeat check keeps its place (the partition's position does not move back). */
  clear(): void {
    this.#records = [];
    this.#head = 0;
  }
}
