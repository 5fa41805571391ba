import assert from 'node:assert/strict';
import { test } from 'node:test';
import { areaOf, type CpuProfile, summarizeProfile } from './profile-summary.ts';

const ROOT = '/work/ferry/';

test('areas: packages, Node internals, Ferry files, GC and native time', () => {
  assert.equal(areaOf('file:///work/ferry/node_modules/hono/dist/hono.js', 'fetch', ROOT), 'hono');
  assert.equal(areaOf('file:///work/ferry/node_modules/@confluentinc/kafka-javascript/lib/producer.js', 'produce', ROOT), '@confluentinc/kafka-javascript');
  assert.equal(areaOf('node:internal/streams/readable', 'read', ROOT), 'node:internal/streams');
  assert.equal(areaOf('node:http', 'x', ROOT), 'node:http');
  assert.equal(areaOf('file:///work/ferry/gateway/app.ts', 'ingest', ROOT), 'ferry: gateway/app.ts');
  assert.equal(areaOf('', '(garbage collector)', ROOT), 'GC');
  assert.equal(areaOf('', '(program)', ROOT), 'native (outside JS)');
  assert.equal(areaOf('', '(idle)', ROOT), 'idle');
});

test('self and inclusive time, idle left out, recursion counted once', () => {
  // root -> ingest -> toAvro -> toAvro (recursive); root -> (idle); root -> (garbage collector)
  const frame = (functionName: string, url = '') => ({ functionName, url, lineNumber: 0 });
  const p: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 5, 6] },
      { id: 2, callFrame: frame('ingest', `file://${ROOT}gateway/app.ts`), children: [3] },
      { id: 3, callFrame: frame('toAvro', `file://${ROOT}schemas/validate.ts`), children: [4] },
      { id: 4, callFrame: frame('toAvro', `file://${ROOT}schemas/validate.ts`), children: [] },
      { id: 5, callFrame: frame('(idle)'), children: [] },
      { id: 6, callFrame: frame('(garbage collector)'), children: [] },
    ],
    samples: [2, 3, 4, 4, 5, 5, 5, 6],
    timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
    startTime: 0,
    endTime: 8000,
  };
  const s = summarizeProfile(p, 10, ROOT);
  assert.equal(s.totalMs, 8);
  assert.equal(s.busyMs, 5);
  assert.deepEqual(s.areas.map((a) => [a.area, a.ms]), [['ferry: schemas/validate.ts', 3], ['ferry: gateway/app.ts', 1], ['GC', 1]]);
  const toAvro = s.topInclusive.find((f) => f.fn.startsWith('toAvro'))!;
  assert.equal(toAvro.ms, 3, 'the recursive call is not counted twice');
  assert.equal(s.topInclusive.find((f) => f.fn.startsWith('ingest'))!.ms, 4);
  assert.equal(s.topSelf[0]!.fn.startsWith('toAvro'), true);
  assert.ok(Math.abs(s.topSelf[0]!.share - 0.6) < 1e-9);
});
