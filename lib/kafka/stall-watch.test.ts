import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { judge, probeDue } from './stall-watch.ts';

const period = 10_000;

describe('probeDue', () => {
  it('probes a partition silent for the period whose records librdkafka would have handed over', () => {
    assert.equal(probeDue({ lastRecordAt: 0, probedAt: -Infinity }, 6_000, 10_000, period), true);
  });

  it('leaves a partition alone while librdkafka still has records queued (a backlog handed over partition after partition)', () => {
    // The queue last ran empty before (or just after) the partition went silent.
    assert.equal(probeDue({ lastRecordAt: 5_000, probedAt: -Infinity }, 4_000, 60_000, period), false);
    assert.equal(probeDue({ lastRecordAt: 5_000, probedAt: -Infinity }, 9_000, 60_000, period), false);
  });

  it('waits the whole period of silence, and a period between probes of one partition', () => {
    assert.equal(probeDue({ lastRecordAt: 0, probedAt: -Infinity }, 9_000, 9_999, period), false);
    assert.equal(probeDue({ lastRecordAt: 0, probedAt: 5_000 }, 20_000, 14_999, period), false);
    assert.equal(probeDue({ lastRecordAt: 0, probedAt: 5_000 }, 20_000, 15_000, period), true);
  });

  it('is off at 0', () => {
    assert.equal(probeDue({ lastRecordAt: 0, probedAt: -Infinity }, 1e9, 1e9, 0), false);
  });

  it('never probes a partition that got a record within the period, whatever the times', () => {
    fc.assert(
      fc.property(fc.nat(1e9), fc.nat(1e9), fc.nat(9_999), fc.integer({ min: 1, max: 60_000 }), (lastRecordAt, drainedAt, since, stallAfterMs) => {
        const now = lastRecordAt + Math.min(since, stallAfterMs - 1);
        return !probeDue({ lastRecordAt, probedAt: -Infinity }, drainedAt, now, stallAfterMs);
      }),
    );
  });
});

describe('judge', () => {
  const fresh = { healedAt: -1, suspectAt: -1 };

  it('finds records waiting only when the broker has one at or after the next offset expected', () => {
    assert.equal(judge(10, 11, fresh), 'suspect');
    assert.equal(judge(10, 10, fresh), 'clear');
    assert.equal(judge(10, 3, fresh), 'clear');
    assert.equal(judge(-1, 5, fresh), 'clear', 'an unknown next offset is never a stall');
  });

  it('restarts a partition once per offset it stopped at (offsets may hold nothing to hand over)', () => {
    assert.equal(judge(10, 11, { healedAt: 10, suspectAt: -1 }), 'clear');
    assert.equal(judge(12, 20, { healedAt: 10, suspectAt: -1 }), 'suspect', 'stopped again further on');
  });

  it('calls a partition stalled only when a second probe finds records waiting at the same offset', () => {
    assert.equal(judge(10, 12, { healedAt: -1, suspectAt: -1 }), 'suspect');
    assert.equal(judge(10, 12, { healedAt: -1, suspectAt: 10 }), 'stalled');
    assert.equal(judge(11, 12, { healedAt: -1, suspectAt: 10 }), 'suspect', 'it moved since');
    assert.equal(judge(12, 12, { healedAt: -1, suspectAt: 10 }), 'clear');
    assert.equal(judge(10, 12, { healedAt: 10, suspectAt: 10 }), 'clear', 'already restarted there');
  });
});
