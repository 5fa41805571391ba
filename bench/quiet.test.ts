import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cpuTimes } from './quiet.ts';

test('cpuTimes: busy is everything but idle and iowait, from the all-cores line', () => {
  const stat = 'cpu  100 5 50 800 20 3 2 10 0 0\ncpu0 50 2 25 400 10 1 1 5 0 0\nintr 1 2 3\n';
  assert.deepEqual(cpuTimes(stat), { busy: 170, total: 990 });
});

test('cpuTimes: a kernel without the steal column still counts', () => {
  assert.deepEqual(cpuTimes('cpu 10 0 5 85 0 0 0\n'), { busy: 15, total: 100 });
});
