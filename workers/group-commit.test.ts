import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GroupCommit } from './group-commit.ts';

/** A send that records its calls and stays open until `release()` settles the oldest one. */
function recorder(fail = false) {
  const calls: number[][] = [];
  const open: (() => void)[] = [];
  const send = (items: number[]) => {
    calls.push([...items]);
    return new Promise<void>((resolve, reject) => open.push(() => (fail ? reject(new Error('store down')) : resolve())));
  };
  const release = async () => {
    const deadline = Date.now() + 2000;
    while (open.length === 0) {
      if (Date.now() > deadline) throw new Error('no call to release');
      await new Promise((r) => setImmediate(r));
    }
    open.shift()!();
  };
  return { send, calls, open, release };
}

describe('GroupCommit', () => {
  it('items handed over in the same turn go out in one call, in order, and every caller settles with it', async () => {
    const r = recorder();
    const gc = new GroupCommit(r.send);
    const settled: string[] = [];
    const a = gc.add([1, 2]).then(() => settled.push('a'));
    const b = gc.add([3]).then(() => settled.push('b'));
    assert.equal(r.calls.length, 0, 'nothing sent within the turn');
    await r.release();
    await Promise.all([a, b]);
    assert.deepEqual(r.calls, [[1, 2, 3]]);
    assert.deepEqual(settled.sort(), ['a', 'b']);
  });

  it('a caller does not settle before the call carrying its items', async () => {
    const r = recorder();
    const gc = new GroupCommit(r.send, { maxInFlight: 1 });
    const first = gc.add([1]);
    let secondDone = false;
    const second = gc.add([2]).then(() => (secondDone = true));
    await r.release();
    await first;
    await second;
    assert.equal(secondDone, true);
    // Both were in one call; now one that arrives while a call runs waits for its own call.
    const third = gc.add([3]);
    let fourthDone = false;
    await new Promise((res) => setImmediate(res));
    const fourth = gc.add([4]).then(() => (fourthDone = true));
    await new Promise((res) => setTimeout(res, 10));
    assert.equal(fourthDone, false);
    await r.release();
    await third;
    await r.release();
    await fourth;
    assert.deepEqual(r.calls, [[1, 2], [3], [4]]);
  });

  it('runs at most maxInFlight calls; later items gather and go out together', async () => {
    const r = recorder();
    const gc = new GroupCommit(r.send, { maxInFlight: 2 });
    const p1 = gc.add([1]);
    await new Promise((res) => setImmediate(res));
    const p2 = gc.add([2]);
    await new Promise((res) => setImmediate(res));
    const rest = [gc.add([3]), gc.add([4])];
    await new Promise((res) => setTimeout(res, 10));
    assert.equal(r.open.length, 2, 'the third call waits for a slot');
    for (let i = 0; i < 3; i++) await r.release();
    await Promise.all([p1, p2, ...rest]);
    assert.deepEqual(r.calls, [[1], [2], [3, 4]]);
  });

  it("keeps calls to maxItems but never splits one caller's items", async () => {
    const r = recorder();
    const gc = new GroupCommit(r.send, { maxItems: 3, maxInFlight: 1 });
    const all = [gc.add([1, 2]), gc.add([3, 4]), gc.add([5, 6, 7, 8]), gc.add([9])];
    for (let i = 0; i < 4; i++) await r.release().catch(() => {});
    await Promise.all(all);
    assert.deepEqual(r.calls, [[1, 2], [3, 4], [5, 6, 7, 8], [9]]);
  });

  it('counts items by their size when one carries many', async () => {
    const r = recorder();
    // Each item stands for that many rows.
    const gc = new GroupCommit(r.send, { maxItems: 5, maxInFlight: 1, size: (n) => n });
    const all = [gc.add([2]), gc.add([3]), gc.add([1]), gc.add([4, 1]), gc.add([9])];
    for (let i = 0; i < 4; i++) await r.release().catch(() => {});
    await Promise.all(all);
    assert.deepEqual(r.calls, [[2, 3], [1], [4, 1], [9]]);
  });

  it('a failed call rejects every caller in it, and the next items start a new call', async () => {
    const r = recorder(true);
    const gc = new GroupCommit(r.send);
    const both = Promise.allSettled([gc.add([1]), gc.add([2])]);
    await r.release();
    assert.deepEqual((await both).map((s) => s.status), ['rejected', 'rejected']);
    const next = gc.add([3]);
    await r.release();
    await assert.rejects(next, /store down/);
    assert.deepEqual(r.calls, [[1, 2], [3]]);
  });

  it('adding nothing sends nothing', async () => {
    const r = recorder();
    await new GroupCommit(r.send).add([]);
    assert.equal(r.calls.length, 0);
  });
});
