import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bodyOf, type KeyValueStore, Queue, type QueueOptions, utf8Length } from './queue.ts';

/** A Storage of the Web Storage API's shape, in memory. */
class MemoryStorage implements KeyValueStore {
  readonly map = new Map<string, string>();
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

function queue(storage: KeyValueStore, over: Partial<QueueOptions> = {}): Queue {
  let n = 0;
  return new Queue({
    prefix: 'ferry:test:',
    slot: 'tab-1',
    storage,
    newId: () => `key-${++n}`,
    now: () => 1_000_000,
    batchEvents: 3,
    batchBytes: 1000,
    maxEvents: 100,
    maxBytes: 100_000,
    ...over,
  });
}
const ev = (i: number) => JSON.stringify({ user_id: `u-${i}`, n: i });

describe('Queue', () => {
  it('seals a topic batch at batchEvents, each topic apart, and gives each sealed batch its own key', () => {
    const q = queue(new MemoryStorage());
    for (let i = 0; i < 4; i++) q.add('page_views', ev(i));
    q.add('orders', ev(9));
    assert.equal(q.batches.length, 1);
    assert.deepEqual(q.batches[0]!.events, [ev(0), ev(1), ev(2)]);
    assert.equal(q.batches[0]!.id, 'key-1');
    q.seal();
    assert.deepEqual(q.batches.map((b) => [b.topic, b.events.length]), [['page_views', 3], ['page_views', 1], ['orders', 1]]);
    assert.equal(new Set(q.batches.map((b) => b.id)).size, 3);
    assert.equal(bodyOf(q.batches[0]!), `[${ev(0)},${ev(1)},${ev(2)}]`);
  });

  it('seals before a batch would pass batchBytes', () => {
    const q = queue(new MemoryStorage(), { batchEvents: 100, batchBytes: 50 });
    const big = JSON.stringify({ pad: 'x'.repeat(20) });
    q.add('t', big);
    q.add('t', big);
    assert.equal(q.batches.length, 1);
    assert.equal(q.open.t!.length, 1);
    assert.ok(utf8Length(bodyOf(q.batches[0]!)) <= 50);
  });

  it('survives a reload: the same slot gives back the batches with their keys and tries, and the open events', () => {
    const s = new MemoryStorage();
    const q = queue(s);
    for (let i = 0; i < 4; i++) q.add('page_views', ev(i));
    q.batches[0]!.tries = 2;
    q.save();
    const again = queue(s);
    assert.deepEqual(again.batches, q.batches);
    assert.deepEqual(again.open, { page_views: [ev(3)] });
  });

  it('adopts the slots of tabs that were closed (released) or went silent for staleMs, not of live ones', () => {
    const s = new MemoryStorage();
    const stored = (t: number, r?: 1) =>
      JSON.stringify({ b: [{ id: `k-${t}`, topic: 't', events: [ev(t)], tries: 1 }], o: { t: [ev(t + 1)] }, d: 2, t, ...(r ? { r } : {}) });
    s.setItem('ferry:test:closed', stored(999_000, 1));
    s.setItem('ferry:test:dead', stored(1));
    s.setItem('ferry:test:live', stored(990_000));
    s.setItem('ferry:other:closed', stored(5, 1));
    const q = queue(s, { staleMs: 500_000 });
    assert.deepEqual(q.batches.map((b) => b.id).sort(), ['k-1', 'k-999000']);
    assert.equal(q.open.t!.length, 2);
    assert.equal(q.dropped, 4);
    assert.deepEqual([...s.map.keys()].sort(), ['ferry:other:closed', 'ferry:test:live', 'ferry:test:tab-1']);
  });

  it('holds its bounds by dropping the oldest events and counting them: one at a time from a batch never sent, whole once sent', () => {
    const s = new MemoryStorage();
    const q = queue(s, { maxEvents: 5 });
    for (let i = 0; i < 6; i++) q.add('t', ev(i));
    assert.equal(q.count(), 5);
    assert.equal(q.dropped, 1);
    assert.deepEqual(q.batches[0]!.events, [ev(1), ev(2)], 'the oldest event went');
    q.batches[0]!.tries = 1;
    q.add('t', ev(6));
    assert.equal(q.dropped, 3, 'a batch the gateway may have seen keeps its body or goes whole');
    assert.deepEqual(q.batches.flatMap((b) => b.events), [ev(3), ev(4), ev(5)]);
    assert.equal(JSON.parse(s.getItem('ferry:test:tab-1')!).d, 3, 'the counter is stored');
  });

  it('holds a byte bound, and never drops the batch being sent', () => {
    const q = queue(new MemoryStorage(), { maxBytes: 200, batchEvents: 2 });
    for (let i = 0; i < 4; i++) q.add('t', ev(i));
    q.busy = q.batches[0];
    for (let i = 4; i < 12; i++) q.add('t', ev(i));
    assert.ok(q.bytes() <= 200, String(q.bytes()));
    assert.equal(q.batches[0], q.busy);
    assert.ok(q.dropped > 0);
  });

  it('replace puts new keys in place of a batch; remove takes it out', () => {
    const q = queue(new MemoryStorage());
    for (let i = 0; i < 6; i++) q.add('t', ev(i));
    const [a, b] = q.batches;
    const made = q.replace(a!, [[ev(0)], [], [ev(2)]]);
    assert.deepEqual(q.batches.map((x) => x.events), [[ev(0)], [ev(2)], [ev(3), ev(4), ev(5)]]);
    assert.ok(made.every((m) => m.id !== a!.id && m.tries === 0));
    q.remove(b!);
    assert.equal(q.batches.length, 2);
  });

  it('works without storage, and with storage that refuses writes', () => {
    const q = queue(undefined as unknown as KeyValueStore, { storage: undefined });
    q.add('t', ev(1));
    assert.equal(q.count(), 1);
    const full = new MemoryStorage();
    full.setItem = () => {
      throw new Error('QuotaExceededError');
    };
    const q2 = queue(full);
    q2.add('t', ev(1));
    assert.equal(q2.count(), 1);
  });

  it('counts UTF-8 bytes', () => {
    assert.equal(utf8Length('abc'), 3);
    assert.equal(utf8Length('é'), 2);
    assert.equal(utf8Length('€'), 3);
    assert.equal(utf8Length('😀'), 4);
    assert.equal(utf8Length('a€😀'), Buffer.byteLength('a€😀'));
  });
});
