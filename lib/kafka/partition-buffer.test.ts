import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type * as RdKafka from '@confluentinc/kafka-javascript';
import { PartitionBuffer } from './partition-buffer.ts';

const record = (offset: number): RdKafka.Message => ({ topic: 't', partition: 0, offset, key: null, value: null, size: 0 });
const offsets = (ms: RdKafka.Message[]) => ms.map((m) => m.offset);

describe('PartitionBuffer', () => {
  it('hands records out oldest first, at most `max` at a time', () => {
    const b = new PartitionBuffer<RdKafka.Message>();
    for (let o = 10; o < 15; o++) assert.equal(b.push(record(o)), true);
    assert.equal(b.size, 5);
    assert.deepEqual(offsets(b.take(2)), [10, 11]);
    assert.deepEqual(offsets(b.take(10)), [12, 13, 14]);
    assert.equal(b.size, 0);
    assert.deepEqual(b.take(3), []);
  });

  it('drops a record fetched again (a pause or rebalance refetches from the last record taken), also after it was handed out', () => {
    const b = new PartitionBuffer<RdKafka.Message>();
    b.push(record(0));
    b.push(record(1));
    assert.deepEqual(offsets(b.take(5)), [0, 1]);
    assert.equal(b.push(record(1)), false);
    assert.equal(b.push(record(0)), false);
    b.push(record(2));
    // Gaps (compacted records, transaction markers) are fine.
    b.push(record(7));
    assert.equal(b.push(record(5)), false);
    assert.deepEqual(offsets(b.take(5)), [2, 7]);
  });

  it('keeps order across many takes (the taken head is released in chunks)', () => {
    const b = new PartitionBuffer<RdKafka.Message>();
    const seen: number[] = [];
    let next = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 300; i++) b.push(record(next++));
      seen.push(...offsets(b.take(250)));
    }
    while (b.size > 0) seen.push(...offsets(b.take(1000)));
    assert.deepEqual(seen, Array.from({ length: next }, (_, i) => i));
  });

  it('clear() drops what is buffered', () => {
    const b = new PartitionBuffer<RdKafka.Message>();
    b.push(record(0));
    b.clear();
    assert.equal(b.size, 0);
    assert.equal(b.push(record(0)), false, 'the position does not move back');
    assert.equal(b.push(record(1)), true);
  });
});
