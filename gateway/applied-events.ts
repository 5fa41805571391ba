/**
 * Who is waiting for which events to be applied (for `Prefer: wait`). The workers announce
 * applied event ids (on Node: Redis pub/sub, see stores/redis-applied-subscriber.ts); this registry
 * resolves only the waiters this process holds and ignores every other id.
 *
 * Register before producing: a worker can apply an event before the producer's delivery
 * report reaches the gateway.
 */
import { decodeApplied } from '../lib/contract.ts';

export interface AppliedWatch {
  /** Resolves true once every watched id was applied, false after `timeoutMs` or on `signal`. Ends the watch. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  /** Stops watching (the request will not wait after all). Idempotent. */
  cancel(): void;
}

export interface AppliedEventsSource {
  watch(eventIds: string[]): AppliedWatch;
}

interface Waiter {
  remaining: Set<string>;
  done: () => void;
}

export class AppliedEvents implements AppliedEventsSource {
  readonly #byId = new Map<string, Set<Waiter>>();

  /** Event ids currently watched by this process (for metrics and tests). */
  get watching(): number {
    return this.#byId.size;
  }

  watch(eventIds: string[]): AppliedWatch {
    let resolveDone!: () => void;
    const applied = new Promise<void>((resolve) => (resolveDone = resolve));
    const waiter: Waiter = { remaining: new Set(eventIds), done: resolveDone };
    for (const id of waiter.remaining) {
      let set = this.#byId.get(id);
      if (!set) this.#byId.set(id, (set = new Set()));
      set.add(waiter);
    }
    if (waiter.remaining.size === 0) resolveDone();

    const cancel = () => {
      for (const id of waiter.remaining) {
        const set = this.#byId.get(id);
        set?.delete(waiter);
        if (set?.size === 0) this.#byId.delete(id);
      }
      waiter.remaining.clear();
    };

    return {
      cancel,
      wait: async (timeoutMs, signal) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        let onAbort: (() => void) | undefined;
        const giveUp = new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), timeoutMs);
          onAbort = () => resolve(false);
          signal?.addEventListener('abort', onAbort, { once: true });
        });
        try {
          return await Promise.race([applied.then(() => true as const), giveUp]);
        } finally {
          clearTimeout(timer);
          if (onAbort) signal?.removeEventListener('abort', onAbort);
          cancel();
        }
      },
    };
  }

  /** Marks ids as applied; resolves the waiters whose last id this was. */
  deliver(eventIds: Iterable<string>): void {
    for (const id of eventIds) {
      const set = this.#byId.get(id);
      if (!set) continue;
      this.#byId.delete(id);
      for (const waiter of set) {
        waiter.remaining.delete(id);
        if (waiter.remaining.size === 0) waiter.done();
      }
    }
  }

  /** Handles one announcement, `{"event_ids":["...", ...]}`; anything else is ignored. */
  deliverMessage(message: string): void {
    const ids = decodeApplied(message);
    if (ids) this.deliver(ids);
  }
}
