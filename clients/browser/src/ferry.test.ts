/**
 * The client's sending loop under Node, with the few browser globals it touches stubbed and a
 * scripted gateway as fetch. What only a browser does (offline, reload, unload) is in
 * test/browser-sdk.integration.test.ts.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { createClient, type FerryError, uuid } from './ferry.ts';

class MemoryStorage {
  map = new Map<string, string>();
  get length() {
    return this.map.size;
  }
  key(i: number) {
    return [...this.map.keys()][i] ?? null;
  }
  getItem(k: string) {
    return this.map.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.map.set(k, v);
  }
  removeItem(k: string) {
    this.map.delete(k);
  }
}

interface Sent {
  url: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}

const g = globalThis as Record<string, unknown>;
let sent: Sent[];
let answers: ((req: Sent) => Response)[];

beforeEach(() => {
  sent = [];
  answers = [];
  g.localStorage = new MemoryStorage();
  g.sessionStorage = new MemoryStorage();
  Object.defineProperty(globalThis, 'navigator', { value: { onLine: true, sendBeacon: () => false }, configurable: true, writable: true });
  g.addEventListener = () => {};
  g.fetch = async (url: string, init: { headers: Record<string, string>; body: string }) => {
    const req = { url, headers: init.headers, body: init.body, at: Date.now() };
    sent.push(req);
    const answer = answers.shift();
    return answer ? answer(req) : Response.json({ accepted: 1 }, { status: 202 });
  };
});

const view = (n: number) => ({ user_id: `u-${n}`, url: `https://shop.example/${n}`, occurred_at: '2026-11-23T10:00:00Z' });
const problem = (status: number, headers: Record<string, string> = {}) => () =>
  new Response(JSON.stringify({ title: 'nope', status, detail: 'amount_cents must be at least 0' }), {
    status,
    headers: { 'content-type': 'application/problem+json', ...headers },
  });

describe('createClient', () => {
  it('batches what is tracked together into one request with an Idempotency-Key, setting event_id and turning Dates into RFC 3339', async () => {
    const ferry = createClient({ url: 'http://gw.test/', key: 'k-1', flushMs: 5 });
    const id = ferry.track('page_views', { ...view(1), occurred_at: new Date(Date.UTC(2026, 10, 23, 10)) });
    ferry.track('page_views', view(2));
    await ferry.flush();
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.url, 'http://gw.test/v1/events/page_views');
    assert.equal(sent[0]!.headers['x-api-key'], 'k-1');
    assert.match(sent[0]!.headers['idempotency-key']!, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const body = JSON.parse(sent[0]!.body) as { event_id: string; occurred_at: string }[];
    assert.equal(body.length, 2);
    assert.equal(body[0]!.event_id, id);
    assert.equal(body[0]!.occurred_at, '2026-11-23T10:00:00.000Z');
    assert.deepEqual(ferry.stats(), { queued: 0, dropped: 0 });
  });

  it('429 and 503: the same key and body again, not before Retry-After', async () => {
    answers.push(problem(429, { 'retry-after': '1' }), problem(503, { 'retry-after': '0' }));
    const ferry = createClient({ url: 'http://gw.test', flushMs: 5, backoff: { baseMs: 10 } });
    ferry.track('page_views', view(1));
    await ferry.flush();
    assert.equal(sent.length, 3);
    assert.equal(new Set(sent.map((s) => s.headers['idempotency-key'])).size, 1);
    assert.equal(new Set(sent.map((s) => s.body)).size, 1);
    assert.ok(sent[1]!.at - sent[0]!.at >= 1000, `waited ${sent[1]!.at - sent[0]!.at} ms after Retry-After: 1`);
  });

  it('no answer (a network error) is retried with backoff', async () => {
    let failing = 2;
    const realFetch = g.fetch as (...a: unknown[]) => Promise<Response>;
    g.fetch = async (...a: unknown[]) => {
      if (failing-- > 0) {
        sent.push({ url: '', headers: {}, body: '', at: Date.now() });
        throw new TypeError('Failed to fetch');
      }
      return realFetch(...a);
    };
    const ferry = createClient({ url: 'http://gw.test', flushMs: 5, backoff: { baseMs: 10 } });
    ferry.track('page_views', view(1));
    await ferry.flush();
    assert.equal(sent.length, 3);
  });

  it('a 422 is permanent: dropped, reported to onError with the problem, never retried, and the next batch goes', async () => {
    answers.push(problem(422));
    const errors: FerryError[] = [];
    const ferry = createClient({ url: 'http://gw.test', flushMs: 5, batchEvents: 1, onError: (e) => errors.push(e) });
    ferry.track('orders', { order_id: 'o-1', customer_id: 'c', status: 'created', amount_cents: -1, currency: 'EUR', occurred_at: '2026-11-23T10:00:00Z' });
    ferry.track('page_views', view(1));
    await ferry.flush();
    assert.equal(sent.length, 2);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.status, 422);
    assert.equal(errors[0]!.topic, 'orders');
    assert.equal(errors[0]!.problem?.detail, 'amount_cents must be at least 0');
    assert.equal((errors[0]!.events[0] as { order_id: string }).order_id, 'o-1');
    assert.equal(sent[1]!.url.endsWith('/page_views'), true);
  });

  it('a 207 sends only the failed events again, under a new key', async () => {
    answers.push(() =>
      Response.json({
        accepted: 3,
        failed: 1,
        results: [{ status: 'accepted' }, { status: 'failed', index: 1 }, { status: 'accepted' }, { status: 'accepted' }],
      }, { status: 207 })
    );
    const ferry = createClient({ url: 'http://gw.test', flushMs: 5 });
    for (let i = 0; i < 4; i++) ferry.track('page_views', view(i));
    await ferry.flush();
    const bodies = sent.map((s) => (JSON.parse(s.body) as { user_id: string }[]).map((e) => e.user_id));
    assert.deepEqual(bodies, [['u-0', 'u-1', 'u-2', 'u-3'], ['u-1']]);
    assert.notEqual(sent[0]!.headers['idempotency-key'], sent[1]!.headers['idempotency-key']);
  });

  it('a 413 splits the batch in halves, each under a new key', async () => {
    answers.push(problem(413));
    const ferry = createClient({ url: 'http://gw.test', flushMs: 5 });
    for (let i = 0; i < 4; i++) ferry.track('page_views', view(i));
    await ferry.flush();
    const bodies = sent.map((s) => (JSON.parse(s.body) as { user_id: string }[]).map((e) => e.user_id));
    assert.deepEqual(bodies, [['u-0', 'u-1', 'u-2', 'u-3'], ['u-0', 'u-1'], ['u-2', 'u-3']]);
    assert.equal(new Set(sent.map((s) => s.headers['idempotency-key'])).size, 3);
  });

  it('send() resolves with the answer of its own batch, asking Prefer: wait', async () => {
    answers.push(() => Response.json({ event_id: 'e', order: { status: 'paid' } }, { status: 200 }));
    const ferry = createClient({ url: 'http://gw.test' });
    const answer = await ferry.send('orders', {
      order_id: 'o-2',
      customer_id: 'c',
      status: 'paid',
      amount_cents: 1,
      currency: 'EUR',
      occurred_at: '2026-11-23T10:00:00Z',
    }, { wait: 5 });
    assert.deepEqual(answer.order, { status: 'paid' });
    assert.equal(sent[0]!.headers.prefer, 'wait=5');
  });

  it('an outbox left by an earlier page is sent at start, under its stored key', async () => {
    const first = createClient({ url: 'http://gw.test', flushMs: 60_000 });
    answers.push(problem(503), () => Response.json({}, { status: 202 }));
    first.track('page_views', view(1));
    void first.flush();
    await new Promise((r) => setTimeout(r, 50));
    const key = sent[0]!.headers['idempotency-key'];
    // The "reload": a new client over the same storage and tab.
    const second = createClient({ url: 'http://gw.test' });
    await second.flush();
    assert.equal(sent.at(-1)!.headers['idempotency-key'], key);
    assert.equal(sent.at(-1)!.body, sent[0]!.body);
  });

  it("pagehide: keepalive fetch under each batch's own key while 60 KB last; past that a beacon only for a batch never sent, which then leaves the outbox", () => {
    const listeners: Record<string, () => void> = {};
    g.addEventListener = (type: string, fn: () => void) => (listeners[type] = fn);
    const beacons: { url: string; body: string }[] = [];
    (globalThis.navigator as { onLine: boolean }).onLine = false;
    (globalThis.navigator as unknown as { sendBeacon: (u: string, b: string) => boolean }).sendBeacon = (url, body) => beacons.push({ url, body }) > 0;
    const keepalive: { key: string; keepalive: boolean }[] = [];
    g.fetch = async (_url: string, init: { headers: Record<string, string>; keepalive?: boolean }) => {
      keepalive.push({ key: init.headers['idempotency-key']!, keepalive: init.keepalive === true });
      return Response.json({}, { status: 202 });
    };
    const batch = (id: string, tries: number, kb: number) => ({
      id,
      topic: 'page_views',
      tries,
      events: [JSON.stringify({ pad: 'x'.repeat(kb * 1000 - 12) })],
    });
    (g.sessionStorage as MemoryStorage).setItem('ferry.tab', 'tab');
    const slot = 'ferry:http://gw.test:tab';
    (g.localStorage as MemoryStorage).setItem(
      slot,
      JSON.stringify({ b: [batch('k-a', 1, 30), batch('k-b', 0, 25), batch('k-c', 2, 20), batch('k-d', 0, 10)], o: {}, d: 0, t: Date.now() }),
    );
    createClient({ url: 'http://gw.test', beaconKey: 'beacon key' });
    listeners.pagehide!();
    assert.deepEqual(keepalive, [{ key: 'k-a', keepalive: true }, { key: 'k-b', keepalive: true }]);
    assert.deepEqual(beacons.map((b) => b.url), ['http://gw.test/v1/beacon/page_views?key=beacon%20key']);
    const stored = JSON.parse((g.localStorage as MemoryStorage).getItem(slot)!) as { b: { id: string; tries: number }[]; r?: number };
    assert.deepEqual(stored.b.map((b) => [b.id, b.tries]), [['k-a', 2], ['k-b', 1], ['k-c', 2]], 'kept until an answer is read; the beaconed batch is gone');
    assert.equal(stored.r, 1, 'released for another tab to adopt');
  });

  it('flush() and send() settle when their batch is dropped to keep the outbox within its bounds', async () => {
    (globalThis.navigator as { onLine: boolean }).onLine = false;
    const ferry = createClient({ url: 'http://gw.test', maxEvents: 2 });
    const sent = ferry.send('page_views', view(1)).then(() => 'sent', (e: FerryError) => `dropped ${e.events.length}`);
    ferry.track('page_views', view(2));
    const flushed = ferry.flush().then(() => 'flushed');
    ferry.track('page_views', view(3));
    ferry.track('page_views', view(4));
    ferry.flush();
    assert.deepEqual(await Promise.all([sent, flushed]), ['dropped 1', 'flushed']);
    assert.deepEqual(ferry.stats(), { queued: 2, dropped: 2 });
  });

  it('uuid() is a version 4 UUID the gateway takes', () => {
    const ids = new Set(Array.from({ length: 100 }, uuid));
    assert.equal(ids.size, 100);
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

/** Compiled by `tsc --noEmit -p .`, never run: track() takes each topic's event as the schemas say. */
export function typeChecks(): void {
  const ferry = createClient({ url: 'http://gw.test' });
  ferry.track('orders', { order_id: 'o', customer_id: 'c', status: 'paid', amount_cents: 1, currency: 'EUR', occurred_at: new Date() });
  ferry.track('page_views', { user_id: 'u', url: 'https://x.example/', occurred_at: '2026-11-23T10:00:00Z', referrer: null });
  // @ts-expect-error: not a topic
  ferry.track('clicks', { user_id: 'u' });
  // @ts-expect-error: not an order status
  ferry.track('orders', { order_id: 'o', customer_id: 'c', status: 'lost', amount_cents: 1, currency: 'EUR', occurred_at: '2026-11-23T10:00:00Z' });
  // @ts-expect-error: amount_cents is missing
  ferry.track('orders', { order_id: 'o', customer_id: 'c', status: 'paid', currency: 'EUR', occurred_at: '2026-11-23T10:00:00Z' });
  // @ts-expect-error: received_at is the gateway's
  ferry.track('page_views', { user_id: 'u', url: 'https://x.example/', occurred_at: '2026-11-23T10:00:00Z', received_at: 1 });
  // @ts-expect-error: occurred_at is text or a Date on the wire, not epoch milliseconds
  ferry.track('page_views', { user_id: 'u', url: 'https://x.example/', occurred_at: 1 });
}
