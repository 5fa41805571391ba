/**
 * The outbox: events waiting to be sent, grouped into batches, kept in a Storage (localStorage)
 * so they survive reloads and offline periods. Pure logic with the storage, clock and id source
 * passed in, so it runs under node:test as it runs in a page.
 *
 * An event is first held in its topic's open batch. Sealing gives a batch its Idempotency-Key
 * (`id`), after which its events and so its body never change: a retry, from this page or a
 * later one, sends the same key with the same body and the gateway answers it from the first
 * delivery instead of producing again.
 */

export interface Batch {
  /** The Idempotency-Key. */
  id: string;
  topic: string;
  /** Each event as JSON text; the body is `[` + these joined by `,` + `]`. */
  events: string[];
  /** How many times it was sent (0: never left this browser, so it may go by beacon). */
  tries: number;
  /** `Prefer: wait=N` seconds. */
  wait?: number;
}

/** The subset of the Web Storage API used. */
export interface KeyValueStore {
  readonly length: number;
  key(index: number): string | null;
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface QueueOptions {
  /** Prefix of this client's storage keys; each tab keeps its own slot under it. */
  prefix: string;
  /** This tab's slot, kept across reloads (sessionStorage). */
  slot: string;
  storage?: KeyValueStore;
  newId: () => string;
  now: () => number;
  /** A batch is sealed once it holds this many events. */
  batchEvents: number;
  /** ... or this many bytes of body. */
  batchBytes: number;
  /** Bounds of the whole outbox; past them the oldest events are dropped (and counted). */
  maxEvents: number;
  maxBytes: number;
  /** Told when a sealed batch is dropped whole to keep within the bounds. */
  onDrop?: (b: Batch) => void;
  /** A slot untouched this long belonged to a tab that died: it is adopted. @defaultValue 1 day */
  staleMs?: number;
}

interface Stored {
  b: Batch[];
  o: Record<string, string[]>;
  d: number;
  /** Last written. */
  t: number;
  /** The page went away (pagehide): another tab may adopt the slot. */
  r?: 1;
}

/** UTF-8 length of a string, without allocating. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A surrogate pair is 4 bytes: 2 per half.
    n += c < 0x80 ? 1 : c < 0x800 || (c >= 0xd800 && c < 0xe000) ? 2 : 3;
  }
  return n;
}

export const bodyOf = (b: Batch): string => `[${b.events.join(',')}]`;

const sizeOf = (events: string[]) => events.reduce((n, e) => n + utf8Length(e) + 1, 1);

export class Queue {
  batches: Batch[] = [];
  open: Record<string, string[]> = {};
  /** Events dropped to keep within the bounds, since the outbox was made. */
  dropped = 0;
  /** The batch being sent now: never dropped to make room (its answer would be lost). */
  busy?: Batch;
  readonly o: QueueOptions;
  private readonly key: string;

  constructor(options: QueueOptions) {
    this.o = options;
    this.key = options.prefix + options.slot;
    const own = this.read(this.key);
    if (own) this.merge(own);
    // Slots of tabs that are gone: closed (released on pagehide) or dead for a day.
    const s = options.storage;
    for (let i = 0; s && i < s.length; i++) {
      const k = s.key(i)!;
      if (k === this.key || !k.startsWith(options.prefix)) continue;
      const other = this.read(k);
      if (other && (other.r || options.now() - other.t > (options.staleMs ?? 864e5))) {
        this.merge(other);
        s.removeItem(k);
        i--;
      }
    }
    this.bound();
    this.save();
  }

  private read(key: string): Stored | undefined {
    try {
      const v = JSON.parse(this.o.storage?.getItem(key) ?? 'null') as Stored | null;
      return v && Array.isArray(v.b) ? v : undefined;
    } catch {
      return undefined;
    }
  }

  private merge(s: Stored): void {
    this.batches.push(...s.b);
    for (const t in s.o) (this.open[t] ??= []).push(...s.o[t]!);
    this.dropped += s.d || 0;
  }

  /** Writes the outbox to storage; `released` when the page is going away. */
  save(released?: boolean): void {
    const s: Stored = { b: this.batches, o: this.open, d: this.dropped, t: this.o.now() };
    if (released) s.r = 1;
    try {
      this.o.storage?.setItem(this.key, JSON.stringify(s));
    } catch {
      // Storage full or refused: the outbox still lives in memory for this page.
    }
  }

  /** Queues one event (JSON text); seals its topic's batch once full. */
  add(topic: string, json: string): void {
    const open = (this.open[topic] ??= []);
    if (open.length > 0 && sizeOf(open) + utf8Length(json) + 1 > this.o.batchBytes) this.seal(topic);
    (this.open[topic] ??= []).push(json);
    if (this.open[topic]!.length >= this.o.batchEvents) this.seal(topic);
    this.bound();
    this.save();
  }

  /** Seals the open batch of `topic`, or of every topic. */
  seal(topic?: string): void {
    for (const t of topic === undefined ? Object.keys(this.open) : [topic]) {
      const events = this.open[t];
      delete this.open[t];
      if (events?.length) this.batches.push({ id: this.o.newId(), topic: t, events, tries: 0 });
    }
    this.save();
  }

  /** Appends a sealed batch (an event sent on its own, with its own answer). */
  push(topic: string, events: string[], wait?: number): Batch {
    const b: Batch = { id: this.o.newId(), topic, events, tries: 0 };
    if (wait !== undefined) b.wait = wait;
    this.batches.push(b);
    this.bound();
    this.save();
    return b;
  }

  /**
   * Puts new batches made of some of `b`'s events (the failed ones of a 207, the halves of a 413)
   * in its place, each with a new key: their bodies differ from the one the gateway saw.
   */
  replace(b: Batch, parts: string[][]): Batch[] {
    const made = parts.filter((p) => p.length > 0).map((events): Batch => ({ id: this.o.newId(), topic: b.topic, events, tries: 0 }));
    const i = this.batches.indexOf(b);
    if (i >= 0) this.batches.splice(i, 1, ...made);
    this.save();
    return made;
  }

  remove(b: Batch): void {
    this.replace(b, []);
  }

  count(): number {
    let n = 0;
    for (const b of this.batches) n += b.events.length;
    for (const t in this.open) n += this.open[t]!.length;
    return n;
  }

  bytes(): number {
    let n = 0;
    for (const b of this.batches) n += sizeOf(b.events);
    for (const t in this.open) n += sizeOf(this.open[t]!);
    return n;
  }

  /**
   * Drops the oldest events until the outbox is within its bounds. A batch never sent loses
   * events one at a time; one that was sent is dropped whole, since its body may not change
   * under its key. The batch being sent is kept.
   */
  private bound(): void {
    while (this.count() > this.o.maxEvents || this.bytes() > this.o.maxBytes) {
      const b = this.batches.find((x) => x !== this.busy);
      if (b) {
        if (b.tries === 0 && b.events.length > 1) {
          b.events.shift();
          this.dropped++;
        } else {
          this.dropped += b.events.length;
          this.remove(b);
          this.o.onDrop?.(b);
        }
        continue;
      }
      const t = Object.keys(this.open).find((k) => this.open[k]!.length > 0);
      if (t === undefined) return;
      this.open[t]!.shift();
      this.dropped++;
    }
  }
}
