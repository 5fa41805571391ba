/**
 * In-memory stand-ins for the gateway's collaborators, for unit tests through app.request.
 * The Redis implementations are tested against a real Redis in test/gateway-*.integration.test.ts.
 */
import { type Delivery, type EventProducer, type OutgoingRecord, ProduceError } from '../lib/kafka/event-producer.ts';
import type { BeginResult, IdempotencyOwner, IdempotencyStore, StoredResponse } from '../gateway/idempotency.ts';
import type { RateDecision, RateLimiter } from '../gateway/rate-limit.ts';
import type { OrderView, ReadModel } from '../gateway/read-model.ts';

/** Records every send; `fails(i)` decides which record of a send fails; `gate` holds sends until released. */
export class FakeProducer implements EventProducer {
  readonly sent: OutgoingRecord[][] = [];
  gate: Promise<void> | undefined;
  constructor(private readonly fails: (i: number) => boolean = () => false) {}
  async send(records: OutgoingRecord[]): Promise<Delivery[]> {
    this.sent.push(records);
    await this.gate;
    return records.map((_, i) =>
      this.fails(i) ? { ok: false, error: new ProduceError(`broker down ${i}`, true) } : { ok: true, partition: i % 3, offset: String(100 + i) }
    );
  }
  async ready(): Promise<boolean> {
    return true;
  }
  async close(): Promise<void> {}
  get records(): OutgoingRecord[] {
    return this.sent.flat();
  }
}

interface Entry {
  fingerprint: string;
  lease?: string;
  response?: StoredResponse;
  expiresAt: number;
}

/** The IdempotencyStore contract in a Map (one process only). */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly entries = new Map<string, Entry>();
  constructor(readonly now: () => number = Date.now) {}

  #get(owner: IdempotencyOwner, key: string): Entry | undefined {
    const e = this.entries.get(entryKey(owner, key));
    if (e && e.expiresAt <= this.now()) {
      this.entries.delete(entryKey(owner, key));
      return undefined;
    }
    return e;
  }

  async begin(owner: IdempotencyOwner, key: string, fingerprint: string, leaseMs: number): Promise<BeginResult> {
    const e = this.#get(owner, key);
    if (!e) {
      const lease = crypto.randomUUID();
      this.entries.set(entryKey(owner, key), { fingerprint, lease, expiresAt: this.now() + leaseMs });
      return { state: 'acquired', lease };
    }
    if (e.fingerprint !== fingerprint) return { state: 'mismatch' };
    if (!e.response) return { state: 'in-flight' };
    return { state: 'done', response: e.response };
  }

  async complete(owner: IdempotencyOwner, key: string, lease: string, response: StoredResponse, ttlMs: number): Promise<void> {
    const e = this.#get(owner, key);
    if (e?.lease !== lease) return;
    e.response = response;
    delete e.lease;
    e.expiresAt = this.now() + ttlMs;
  }

  async release(owner: IdempotencyOwner, key: string, lease: string): Promise<void> {
    if (this.#get(owner, key)?.lease === lease) this.entries.delete(entryKey(owner, key));
  }
}

const entryKey = (owner: IdempotencyOwner, key: string) => `${owner.tenant}\n${owner.credential}\n${key}`;

/** Allows `budget` requests per subject, then refuses with `retryAfterMs`. */
export class FakeRateLimiter implements RateLimiter {
  readonly taken = new Map<string, number>();
  constructor(readonly budget: number, readonly retryAfterMs = 1500) {}
  async take(subject: string): Promise<RateDecision> {
    const n = (this.taken.get(subject) ?? 0) + 1;
    this.taken.set(subject, n);
    return n <= this.budget ? { allowed: true } : { allowed: false, retryAfterMs: this.retryAfterMs };
  }
}

/** Orders by `tenant/order_id` (`default/o-1` when authentication is off). */
export class FakeReadModel implements ReadModel {
  readonly orders = new Map<string, OrderView>();
  /** Set to make reads fail as an unreachable store would. */
  failWith: Error | undefined;
  async getOrder(tenant: string, orderId: string): Promise<{ order: OrderView; source: 'cache' | 'database' } | null> {
    if (this.failWith) throw this.failWith;
    const order = this.orders.get(`${tenant}/${orderId}`);
    return order ? { order, source: 'cache' } : null;
  }
  async ready(): Promise<boolean> {
    return true;
  }
}

/** A valid order event, as a client sends it. */
export const order = (id = 'o-1', extra: Record<string, unknown> = {}) => ({
  order_id: id,
  customer_id: 'c-1',
  status: 'paid',
  amount_cents: 2500,
  currency: 'EUR',
  items: [{ sku: 'A', quantity: 2, price_cents: 1250 }],
  occurred_at: '2026-11-23T11:00:00Z',
  ...extra,
});

/** A JSON POST for app.request. */
export function post(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) };
}
