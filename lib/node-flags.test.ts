import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { NODE_FLAGS } from './node-flags.ts';

const root = new URL('../', import.meta.url);
const flags = NODE_FLAGS.join(' ');

test('every Node process of the Procfile runs with the V8 flags tests and benchmarks use', () => {
  const lines = readFileSync(new URL('Procfile', root), 'utf8').split('\n').filter((l) => /^\w+:\s*node\s/.test(l));
  assert.ok(lines.length >= 3, `expected the gateway, worker and producer lines, got ${lines.length}`);
  for (const line of lines) assert.ok(line.includes(`node ${flags} --import tsx `), `Procfile line without "${flags}": ${line}`);
});

test('the npm scripts that start the gateway, the worker and the dashboard use the same flags', () => {
  const scripts = (JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> }).scripts;
  for (const name of ['gateway', 'worker', 'dashboard']) {
    assert.equal(scripts[name]?.startsWith(`node ${flags} --import tsx `), true, `npm script ${name}: ${scripts[name]}`);
  }
});
