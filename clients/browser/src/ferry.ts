/**
 * Ferry's browser SDK: `ferry.init({ url, key })`, `ferry.track(topic, event)`, `ferry.flush()`.
 * Events wait in a localStorage outbox (queue.ts), go in batches that each carry one
 * Idempotency-Key for life, and come back after 408/409/429/5xx or no answer with backoff and
 * jitter, never sooner than Retry-After (retry.ts). As the page goes, what is left is sent with
 * keepalive fetch under the same keys; see the README for why not sendBeacon first.
 */
import type { TopicEvents } from './events.generated.ts';
import { type Batch, bodyOf, type KeyValueStore, Queue, utf8Length } from './queue.ts';
import { backoffMs, type BackoffOptions, retryAfterMs, verdict } from './retry.ts';

export type { OrderEvent, OrderItem, OrderStatus, PageViewEvent, TopicEvents } from './events.generated.ts';
export type { BackoffOptions } from './retry.ts';

export interface FerryOptions {
  /** The gateway, like `https://ingest.example` (no trailing slash needed). */
  url: string;
  /** API key, sent as X-API-Key. Leave out against a gateway without authentication. */
  key?: string;
  /**
   * A key listed with `"beacon": true`, for `POST /v1/beacon/{topic}?key=`. Only batches never
   * sent that do not fit keepalive's 64 KiB go by beacon as the page is left. @defaultValue none: no beacons
   */
  beaconKey?: string;
  /** Seal a batch at this many events. @defaultValue 50 */
  batchEvents?: number;
  /** ... or this many bytes (keepalive carries at most 64 KiB in all). @defaultValue 16384 */
  batchBytes?: number;
  /** Seal and send this long after an event was tracked. @defaultValue 1000 */
  flushMs?: number;
  /** Bounds of the stored outbox; past them the oldest events are dropped and counted. @defaultValue 1000 events, 512 KiB */
  maxEvents?: number;
  maxBytes?: number;
  backoff?: BackoffOptions;
  /** Storage key prefix; give two clients of one page different names. @defaultValue the url */
  name?: string;
  /** Called when the gateway refused a batch for good (4xx other than 408/409/429), or an event is too large. */
  onError?: (error: FerryError) => void;
}

export interface FerryError {
  /** The HTTP status, or 0 when the event was refused here (larger than batchBytes). */
  status: number;
  topic: string;
  /** The events dropped, as sent. */
  events: unknown[];
  /** The gateway's problem details (RFC 9457), when it sent some. */
  problem?: { title?: string; detail?: string; errors?: { index?: number; field: string; reason: string }[] };
}

export interface SendOptions {
  /** `Prefer: wait=N`: answer once the workers applied the events (200), up to N seconds. */
  wait?: number;
}

export interface FerryClient<E = TopicEvents> {
  /** Queues an event; returns its event_id (set here when the event has none). */
  track<T extends keyof E & string>(topic: T, event: E[T]): string;
  /** Seals the open batches and resolves once every event queued so far was accepted or dropped. */
  flush(): Promise<void>;
  /**
   * Sends events as a batch of their own (still stored, retried and keyed like any other) and
   * resolves with the gateway's answer body, a batch's even for one event (`results`, and with
   * `wait` `applied` and for orders `orders`); rejects with a FerryError if refused for good.
   */
  send<T extends keyof E & string>(topic: T, events: E[T] | E[T][], options?: SendOptions): Promise<Record<string, unknown>>;
  /** `GET /v1/orders/{id}`: the order as the read model holds it, or undefined (404). */
  order(id: string): Promise<Record<string, unknown> | undefined>;
  /** Events waiting, and how many were dropped to keep the outbox within its bounds. */
  stats(): { queued: number; dropped: number };
}

/** A random (version 4) UUID; crypto.randomUUID exists only in secure contexts. */
export function uuid(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 15) | 64;
  b[8] = (b[8]! & 63) | 128;
  const h = Array.from(b, (x) => (x + 256).toString(16).slice(1)).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** localStorage / sessionStorage, or undefined where the browser refuses them (privacy modes). */
function storage(name: 'localStorage' | 'sessionStorage'): KeyValueStore | undefined {
  try {
    const s = globalThis[name];
    void s.length;
    return s;
  } catch {
    return undefined;
  }
}

/** Keepalive requests may carry 64 KiB in all per page; keep some room for headers. */
const KEEPALIVE_BUDGET = 60_000;

export function createClient<E = TopicEvents>(options: FerryOptions): FerryClient<E> {
  const url = options.url.replace(/\/+$/, '');
  const { onError, flushMs = 1000, batchBytes = 16_384 } = options;
  const session = storage('sessionStorage');
  // A slot per tab, kept across its reloads, so two tabs never overwrite each other's outbox.
  let slot = session?.getItem('ferry.tab');
  if (!slot) {
    slot = uuid();
    session?.setItem('ferry.tab', slot);
  }
  const q = new Queue({
    prefix: `ferry:${options.name ?? url}:`,
    slot,
    storage: storage('localStorage'),
    newId: uuid,
    now: Date.now,
    batchEvents: options.batchEvents ?? 50,
    batchBytes,
    maxEvents: options.maxEvents ?? 1000,
    maxBytes: options.maxBytes ?? 524_288,
    // Dropped for room: whoever waits for the batch hears of it.
    onDrop: (b) => {
      settled(b);
      answers.get(b.id)?.fail({ status: 0, topic: b.topic, events: b.events.map((e) => JSON.parse(e) as unknown) });
      answers.delete(b.id);
    },
  });

  // What an earlier page left open goes out now, not after the next track().
  q.seal();

  let sealTimer: ReturnType<typeof setTimeout> | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let pumping = false;
  let failures = 0;
  /** flush() callers: the batch ids each waits for. */
  const waiters: { ids: Set<string>; done: () => void }[] = [];
  /** send() callers, by batch id. */
  const answers = new Map<string, { ok: (body: Record<string, unknown>) => void; fail: (e: FerryError) => void }>();

  const headers = (b: Batch): Record<string, string> => {
    const h: Record<string, string> = { 'content-type': 'application/json', 'idempotency-key': b.id };
    if (options.key) h['x-api-key'] = options.key;
    if (b.wait) h.prefer = `wait=${b.wait}`;
    return h;
  };
  const parse = (text: string): Record<string, unknown> | undefined => {
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  };

  /** `b` left the outbox (sent, or dropped), replaced by `made`: waiters wait for those instead. */
  function settled(b: Batch, made: Batch[] = []): void {
    for (const w of waiters) if (w.ids.delete(b.id)) { for (const m of made) w.ids.add(m.id); }
    for (let i = waiters.length; i--;) if (!waiters[i]!.ids.size) waiters.splice(i, 1)[0]!.done();
  }

  function seal(): void {
    clearTimeout(sealTimer);
    sealTimer = undefined;
    q.seal();
  }

  /** Sends batches one at a time, oldest first, so events of one key keep their order. */
  async function pump(): Promise<void> {
    if (pumping || retryTimer) return;
    pumping = true;
    try {
      for (let b: Batch | undefined; (b = q.batches[0]);) {
        let status = 0;
        let text = '';
        let retryAfter: string | null = null;
        // Offline (browsers say so only when they know): no request and no timer; the online
        // event, or the next track or flush, starts again.
        if (navigator.onLine === false) return;
        b.tries++;
        q.busy = b;
        q.save();
        try {
          const res = await fetch(`${url}/v1/events/${b.topic}`, { method: 'POST', headers: headers(b), body: bodyOf(b) });
          status = res.status;
          retryAfter = res.headers.get('retry-after');
          text = await res.text();
        } catch {
          // No answer: the gateway may or may not have the batch; the same key makes a retry safe.
        } finally {
          q.busy = undefined;
        }
        const v = verdict(status, b.events.length);
        if (v === 'retry') {
          retryTimer = setTimeout(() => {
            retryTimer = undefined;
            void pump();
          }, backoffMs(++failures, retryAfterMs(retryAfter, Date.now()), Math.random, options.backoff));
          return;
        }
        failures = 0;
        const body = parse(text);
        const waiting = answers.get(b.id);
        answers.delete(b.id);
        if (v === 'done') {
          // A 207: some events failed in Kafka; only those go again, under a new key.
          const failed = ((body?.results ?? []) as { status: string; index: number }[]).filter((r) => r.status === 'failed').map((r) => b!.events[r.index]!);
          settled(b, q.replace(b, [failed]));
          waiting?.ok(body ?? {});
        } else if (v === 'split') {
          const half = b.events.length >> 1;
          settled(b, q.replace(b, [b.events.slice(0, half), b.events.slice(half)]));
        } else {
          q.remove(b);
          settled(b);
          const error: FerryError = { status, topic: b.topic, events: b.events.map((e) => JSON.parse(e) as unknown) };
          if (body) error.problem = body;
          waiting?.fail(error);
          onError?.(error);
        }
      }
    } finally {
      pumping = false;
    }
  }

  function leave(): void {
    seal();
    let budget = KEEPALIVE_BUDGET;
    for (const b of [...q.batches]) {
      const body = bodyOf(b);
      const size = utf8Length(body);
      if (size <= budget) {
        // Same key as every other attempt: if the page's own request got through too, or a
        // later page sends it again, the gateway answers from the first and produces nothing.
        budget -= size;
        b.tries++;
        fetch(`${url}/v1/events/${b.topic}`, { method: 'POST', headers: headers(b), body, keepalive: true }).catch(() => {});
      } else if (!b.tries && options.beaconKey && navigator.sendBeacon(`${url}/v1/beacon/${b.topic}?key=${encodeURIComponent(options.beaconKey)}`, body)) {
        // A beacon carries no key, so the batch must never be sent again: it leaves the outbox.
        q.remove(b);
      }
    }
    // Released: a tab that is closed for good hands its outbox to the next one of the site.
    q.save(true);
  }

  addEventListener('online', () => {
    clearTimeout(retryTimer);
    retryTimer = undefined;
    void pump();
  });
  addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') {
      seal();
      void pump();
    }
  });
  addEventListener('pagehide', leave);
  // Back from the back-forward cache: the outbox is this page's again.
  addEventListener('pageshow', () => q.save());
  void pump();

  return {
    track(topic, event) {
      const e = event as { event_id?: string };
      const id = e.event_id ?? uuid();
      const json = JSON.stringify({ ...e, event_id: id });
      if (utf8Length(json) + 2 > batchBytes) {
        onError?.({ status: 0, topic, events: [event] });
        return id;
      }
      q.add(topic, json);
      if (q.batches.length) void pump();
      sealTimer ??= setTimeout(() => {
        seal();
        void pump();
      }, flushMs);
      return id;
    },
    flush() {
      seal();
      const ids = new Set(q.batches.map((b) => b.id));
      const done = new Promise<void>((resolve) => (ids.size ? waiters.push({ ids, done: resolve }) : resolve()));
      void pump();
      return done;
    },
    send(topic, events, { wait } = {}) {
      const list = (Array.isArray(events) ? events : [events]) as { event_id?: string }[];
      const b = q.push(topic, list.map((e) => JSON.stringify({ ...e, event_id: e.event_id ?? uuid() })), wait);
      const answer = new Promise<Record<string, unknown>>((ok, fail) => answers.set(b.id, { ok, fail }));
      void pump();
      return answer;
    },
    async order(id) {
      const res = await fetch(`${url}/v1/orders/${encodeURIComponent(id)}`, { headers: options.key ? { 'x-api-key': options.key } : {} });
      if (res.status === 404) return undefined;
      if (!res.ok) throw new Error(`GET /v1/orders/${id}: ${res.status}`);
      return (await res.json()) as Record<string, unknown>;
    },
    stats: () => ({ queued: q.count(), dropped: q.dropped }),
  };
}

let instance: FerryClient | undefined;
const current = (): FerryClient => {
  if (!instance) throw new Error('ferry.init({ url }) first');
  return instance;
};

/** The page's one client, for `ferry.init(...)` then `ferry.track(...)`. */
export const ferry = {
  init(options: FerryOptions): FerryClient {
    return (instance = createClient(options));
  },
  track: <T extends keyof TopicEvents>(topic: T, event: TopicEvents[T]): string => current().track(topic, event),
  flush: (): Promise<void> => current().flush(),
  send: <T extends keyof TopicEvents>(topic: T, events: TopicEvents[T] | TopicEvents[T][], options?: SendOptions) => current().send(topic, events, options),
  order: (id: string) => current().order(id),
  stats: () => current().stats(),
};

export default ferry;
