/**
 * Who is waiting for which events to be applied (for `Prefer: wait`). The workers announce
 * applied (tenant, event id) pairs (on Node: Redis pub/sub, see stores/redis-applied-subscriber.ts);
 * this registry resolves only the waiters this process holds and ignores every other pair. Ids
 * are the clients' choice, so a waiter matches on its tenant too: another tenant applying the
 * same id must not end the wait.
 *
 * Register before producing: a worker can apply an event before the producer's delivery
 * report reaches the gateway.
 */
import { type AppliedEvent, decodeApplied, tenantEventKey } from '../lib/contract.ts';

export interface AppliedWatch {
  /** Resolves true once every watched id was applied, false after `timeoutMs` or on `signal`. Ends the watch. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  /** Stops watching (the request will not wait after all). Idempotent. */
  cancel(): void;
}

export interface AppliedEventsSource {
  /** Watches the events `tenant` sent with these ids. */
  watch(tenant: string, eventIds: string[]): AppliedWatch;
}

interface Waiter {
  remaining: Set<string>;
  done: () => void;
}

export class AppliedEvents implements AppliedEventsSource {
  readonly #byId = new Map<string, Set<Waiter>>();

  /** (tenant, event id) pairs currently watched by this process (for metrics and tests). */
  get watching(): number {
    return this.#byId.size;
  }

  watch(tenant: string, eventIds: string[]): AppliedWatch {
    let resolveDone!: () => void;
    const applied = new Promise<void>((resolve) => (resolveDone = resolve));
    const waiter: Waiter = { remaining: new Set(eventIds.map((id) => tenantEventKey(tenant, id))), done: resolveDone };
    for (const id of waiter.remaining) {
      let set = this.#byId.get(id);
      if (!set) this.#byId.set(id, set = new Set());
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

  /** Marks events as applied; resolves the waiters whose last event this was. */
  deliver(events: Iterable<AppliedEvent>): void {
    for (const { tenant, eventId } of events) {
      const id = tenantEventKey(tenant, eventId);
      const set = this.#byId.get(id);
      if (!set) continue;
      this.#byId.delete(id);
      for (const waiter of set) {
        waiter.remaining.delete(id);
        if (waiter.remaining.size === 0) waiter.done();
      }
    }
  }

  /** Handles one announcement (lib/contract.ts encodeApplied); anything else is ignored. */
  deliverMessage(message: string): void {
    const events = decodeApplied(message);
    if (events) this.deliver(events);
  }
}
