import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LegResult, Machine } from './bench-result.ts';
import { ratios } from './ratios.ts';

const machine: Machine = { nproc: 2, memoryGiB: 8, cpuModel: 'cpu', kernel: 'Linux', node: 'v20', loadAverageStart: [0, 0, 0], loadAverageEnd: [0, 0, 0] };

const leg = (id: string, value: number, extra: Partial<LegResult> = {}): LegResult => ({
  id,
  title: id,
  kind: 'http',
  unit: 'req/s',
  value,
  valid: true,
  invalid: [],
  notes: [],
  cpuCores: {},
  throughputSeries: [],
  ...extra,
});

const byId = (legs: LegResult[], context = {}) => new Map(ratios(new Map(legs.map((l) => [l.id, l])), machine, context).map((r) => [r.id, r]));

test('ratio 5 divides the gateway, single events and batches, by the peer', () => {
  const r = byId([leg('g-gateway', 6000), leg('g-peer', 3000), leg('g-gateway-batch', 45_000, { unit: 'events/s' })]);
  assert.equal(r.get('5 (single)')!.value, 2);
  assert.equal(r.get('5 (single)')!.met, true);
  assert.equal(r.get('5 (batch)')!.value, 15);
  assert.equal(r.get('5 (batch)')!.target, 1.5);
  assert.match(r.get('5 (batch)')!.title, /no batch publish/);
});

test('ratio 5 is not measured when leg g did not run, was invalid, or the peer was not available', () => {
  assert.equal(byId([]).get('5 (single)')!.why, 'leg g-gateway, g-peer not run');
  const invalid = byId([leg('g-gateway', 6000), leg('g-peer', 3000, { valid: false }), leg('g-gateway-batch', 1)]);
  assert.equal(invalid.get('5 (batch)')!.met, null);
  assert.equal(invalid.get('5 (batch)')!.why, 'leg g-peer invalid');
  const missing = byId([], { peerUnavailable: 'installing it failed: E404' });
  for (const id of ['5 (single)', '5 (batch)']) {
    assert.equal(missing.get(id)!.met, null);
    assert.equal(missing.get(id)!.why, 'the peer was not run: installing it failed: E404');
  }
});
