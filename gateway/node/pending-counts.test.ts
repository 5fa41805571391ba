import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { PendingCounts } from './pending-counts.ts';

test('counts reach the Counter when it is collected, once each', async () => {
  const registry = new Registry();
  const pending = new PendingCounts<'route' | 'status'>();
  new Counter({
    name: 'requests_total',
    help: 'h',
    labelNames: ['route', 'status'],
    registers: [registry],
    collect() {
      pending.flush(this);
    },
  });
  const ok = pending.series({ route: '/a', status: '202' });
  const bad = pending.series({ route: '/a', status: '422' });
  pending.series({ route: '/b', status: '202' }); // never counted: no series is shown for it
  ok.count += 3;
  bad.count++;
  const value = (text: string, series: string) => text.split('\n').find((l) => l.startsWith(`requests_total{${series}}`))?.split(' ')[1];
  let text = await registry.metrics();
  assert.equal(value(text, 'route="/a",status="202"'), '3');
  assert.equal(value(text, 'route="/a",status="422"'), '1');
  assert.equal(value(text, 'route="/b",status="202"'), undefined);
  // A second scrape adds only what was counted since the first.
  ok.count++;
  text = await registry.metrics();
  assert.equal(value(text, 'route="/a",status="202"'), '4');
  assert.equal(value(text, 'route="/a",status="422"'), '1');
});
