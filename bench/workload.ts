/**
 * The events a load run sends, generated deterministically from (run, request sequence number),
 * so the checker can regenerate any request instead of keeping every event in memory, and
 * every event carries where it came from:
 * - every key starts with the run tag (`<run>-o17`, `<run>-u3`), so a run only ever reads back
 *   its own events, even on a shared pipeline;
 * - orders carry `amount_cents = seq * 1000 + index` and page views
 *   `referrer = https://bench.ferry.invalid/<seq>/<index>`, so an event found in a sink that was
 *   never acknowledged can be traced to the request that sent it.
 */

export const ORDER_STATUSES = ['created', 'paid', 'shipped', 'cancelled'] as const;
export const MAX_BATCH = 1000;
const TRACE_HOST = 'https://bench.ferry.invalid/';
/** URLs per run: few enough that per-URL counters are meaningful, so Redis can be checked. */
const URLS_PER_RUN = 16;

export interface Workload {
  /** Run tag: lower-case letters and digits. */
  runId: string;
  /** Events per request; 1 sends one JSON object, more send a JSON array. */
  batch: number;
  /** Share of requests that go to `orders` (the rest to `page_views`), 0..1. */
  ordersRatio: number;
  /** Distinct keys per topic (order ids, user ids). */
  keys: number;
  /** occurred_at of request 0, ms since the epoch. @defaultValue the time the workload was made */
  baseTime?: number;
}

export type Topic = 'orders' | 'page_views';

export interface PlannedRequest {
  seq: number;
  topic: Topic;
  path: string;
  body: string;
  events: Record<string, unknown>[];
}

export function newRunId(prefix = 'r'): string {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, '0')}`;
}

export function validateWorkload(w: Workload): Workload {
  if (!/^[a-z][a-z0-9]{2,40}$/.test(w.runId)) throw new Error(`run id must be 3-41 lower-case letters and digits, got ${w.runId}`);
  if (!(Number.isInteger(w.batch) && w.batch >= 1 && w.batch <= MAX_BATCH)) throw new Error(`batch must be 1..${MAX_BATCH}`);
  if (!(w.ordersRatio >= 0 && w.ordersRatio <= 1)) throw new Error('orders ratio must be between 0 and 1');
  if (!(Number.isInteger(w.keys) && w.keys >= 1)) throw new Error('keys must be a whole number of at least 1');
  return { ...w, baseTime: w.baseTime ?? Date.now() };
}

/** The tag every key of the run starts with (a LIKE prefix: the run id has no wildcards). */
export function tagOf(runId: string): string {
  return `${runId}-`;
}

/** mulberry32: small, fast, good enough to spread keys; seeded per request. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

export function pageViewUrl(runId: string, key: number): string {
  return `https://shop.example/${runId}/p${key % URLS_PER_RUN}`;
}

export function planRequest(w: Workload, seq: number): PlannedRequest {
  const random = rng(hashString(w.runId) ^ Math.imul(seq + 1, 2654435761));
  const topic: Topic = random() < w.ordersRatio ? 'orders' : 'page_views';
  const occurred = new Date((w.baseTime ?? 0) + seq).toISOString();
  const events: Record<string, unknown>[] = [];
  for (let i = 0; i < w.batch; i++) {
    const k = Math.floor(random() * w.keys);
    if (topic === 'orders') {
      const price = 100 + (k % 900);
      events.push({
        order_id: `${w.runId}-o${k}`,
        customer_id: `c${k % 97}`,
        status: ORDER_STATUSES[Math.floor(random() * ORDER_STATUSES.length)],
        amount_cents: seq * MAX_BATCH + i,
        currency: 'EUR',
        items: [{ sku: `SKU-${k % 50}`, quantity: 1 + (i % 3), price_cents: price }],
        occurred_at: occurred,
      });
    } else {
      events.push({ user_id: `${w.runId}-u${k}`, url: pageViewUrl(w.runId, k), referrer: `${TRACE_HOST}${seq}/${i}`, occurred_at: occurred });
    }
  }
  const body = JSON.stringify(w.batch === 1 ? events[0] : events);
  return { seq, topic, path: `/v1/events/${topic}`, body, events };
}

/** The request sequence number an order event was generated in. */
export function seqOfOrder(amountCents: number): number {
  return Math.floor(amountCents / MAX_BATCH);
}

/** The request sequence number a page view was generated in, or undefined for a foreign one. */
export function seqOfPageView(referrer: string | null | undefined): number | undefined {
  if (!referrer?.startsWith(TRACE_HOST)) return undefined;
  const seq = Number(referrer.slice(TRACE_HOST.length).split('/')[0]);
  return Number.isInteger(seq) ? seq : undefined;
}

/** The sequence number from a ClickHouse `payload` (the decoded event as JSON). */
export function seqOfPayload(topic: string, payload: string): number | undefined {
  try {
    const v = JSON.parse(payload) as { amount_cents?: number; referrer?: string | null };
    if (topic === 'orders') return typeof v.amount_cents === 'number' ? seqOfOrder(v.amount_cents) : undefined;
    return seqOfPageView(v.referrer);
  } catch {
    return undefined;
  }
}
