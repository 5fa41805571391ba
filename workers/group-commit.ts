/**
 * Group commit: work handed over by concurrent callers joins one buffer, and the buffer goes
 * out as one call of `send`. Each caller's promise settles with the call that carried its items.
 *
 * There is no timer: when a slot is free the buffer goes out on the next turn of the event
 * loop (so callers that finish in the same turn share a call, and an idle system pays no
 * linger), and while `maxInFlight` calls run, items gather and go out together as soon as one
 * returns, so under load calls grow instead of multiplying. One caller's items are never split
 * across calls.
 */

export interface GroupCommitOptions<T> {
  /** Most items (counted by `size`) in one call; a fuller buffer waits for the next call (one caller's items may exceed it). @defaultValue 20000 */
  maxItems?: number;
  /** Calls running at the same time. @defaultValue 2 */
  maxInFlight?: number;
  /** How many items one item counts as (an item may carry many rows). @defaultValue 1 */
  size?: (item: T) => number;
}

interface Buffer<T> {
  items: T[];
  /** The items' total size. */
  size: number;
  done: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class GroupCommit<T> {
  readonly #send: (items: T[]) => Promise<void>;
  readonly #maxItems: number;
  readonly #maxInFlight: number;
  readonly #size: ((item: T) => number) | undefined;
  /** Buffers waiting to be sent, oldest first; only the last one takes new items. */
  readonly #queue: Buffer<T>[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(send: (items: T[]) => Promise<void>, options: GroupCommitOptions<T> = {}) {
    this.#send = send;
    this.#maxItems = options.maxItems ?? 20_000;
    this.#maxInFlight = options.maxInFlight ?? 2;
    this.#size = options.size;
  }

  /** Adds `items` to the open buffer; resolves when the call carrying them succeeded. */
  add(items: readonly T[]): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    let size = items.length;
    if (this.#size) {
      size = 0;
      for (const item of items) size += this.#size(item);
    }
    let b = this.#queue[this.#queue.length - 1];
    if (!b || (b.items.length > 0 && b.size + size > this.#maxItems)) {
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      b = { items: [], size: 0, done, resolve, reject };
      this.#queue.push(b);
    }
    for (const item of items) b.items.push(item);
    b.size += size;
    this.#schedule();
    return b.done;
  }

  /** Sends on the next turn, so callers that hand over in the same turn share one call. */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#drain();
    });
  }

  /** Sends waiting buffers, oldest first, while a slot is free. */
  #drain(): void {
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const b = this.#queue.shift()!;
      this.#inFlight++;
      void this.#run(b).finally(() => {
        this.#inFlight--;
        this.#drain();
      });
    }
  }

  async #run(b: Buffer<T>): Promise<void> {
    try {
      await this.#send(b.items);
      b.resolve();
    } catch (err) {
      b.reject(err);
    }
  }
}
