import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { builtPath, ENTRIES } from '../scripts/build.ts';
import { NODE_FLAGS } from './node-flags.ts';

const root = new URL('../', import.meta.url);
const flags = NODE_FLAGS.join(' ');
/** `node <flags> dist/<folder>/<name>.js`: the production build, no TypeScript loader at start-up. */
const runsBuilt = (command: string) => command.includes(`node ${flags} dist/`) && /\sdist\/\w+\/[\w-]+\.js(\s|$)/.test(command) && !command.includes('tsx');

test('every Node process of the Procfile runs the built output with the V8 flags tests and benchmarks use', () => {
  const lines = readFileSync(new URL('Procfile', root), 'utf8').split('\n').filter((l) => /^\w+:\s*node\s/.test(l));
  assert.ok(lines.length >= 3, `expected the gateway, worker and producer lines, got ${lines.length}`);
  for (const line of lines) assert.ok(runsBuilt(line), `Procfile line without "${flags}" or not running dist/: ${line}`);
});

test('the npm scripts that start Ferry processes use the same flags and the built output', () => {
  const scripts = (JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> }).scripts;
  for (const name of ['gateway', 'worker', 'producer', 'dashboard', 'registry', 'dlq', 'migrate']) {
    assert.ok(runsBuilt(scripts[name] ?? ''), `npm script ${name}: ${scripts[name]}`);
  }
});

test('every file the Procfile and the npm scripts run from dist/ is one scripts/build.ts builds', () => {
  const scripts = (JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const commands = [...readFileSync(new URL('Procfile', root), 'utf8').split('\n'), ...Object.values(scripts)];
  const run = new Set(commands.flatMap((c) => [...c.matchAll(/\bdist\/\w+\/[\w-]+\.js\b/g)].map((m) => m[0])));
  assert.ok(run.size >= 7, [...run].join(' '));
  const built = new Set(ENTRIES.map(builtPath));
  for (const file of run) assert.ok(built.has(file), `${file} is not built by scripts/build.ts`);
});
