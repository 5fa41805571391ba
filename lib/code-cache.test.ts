/**
 * runCached in child processes (a code cache only exists across processes): the first run writes
 * the cache, the next reads it, a changed file or Node's source maps do without it, and the file
 * runs as require() would run it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const dir = mkdtempSync(join(tmpdir(), 'ferry-code-cache-'));
const file = join(dir, 'bundle.cjs');
// Plain JavaScript, run by plain node: tsx turns Node's source maps on, and with them runCached
// leaves loading to Node.
const loader = join(dir, 'code-cache.mjs');
buildSync({ entryPoints: [fileURLToPath(new URL('./code-cache.ts', import.meta.url))], outfile: loader, format: 'esm', platform: 'node', logLevel: 'warning' });

after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `file` through runCached in a new Node process; what it printed, and how the cache was used. */
function run(nodeArgs: string[] = []): { use: string; out: string[] } {
  const script = `import { runCached } from ${JSON.stringify(loader)}; const use = runCached(${
    JSON.stringify(file)
  }); process.on('exit', () => console.log('use=' + use));`;
  const out = execFileSync(process.execPath, [...nodeArgs, '--input-type=module', '-e', script], { encoding: 'utf8' }).trim().split('\n');
  return { use: out.pop()!.replace('use=', ''), out };
}

const body = (n: number) =>
  `const { sep } = require('node:path');
module.exports.n = ${n};
console.log(module.exports.n, __filename === ${JSON.stringify(file)}, __dirname + sep === ${
    JSON.stringify(dir + '/')
  }, require.resolve('./bundle.cjs') === __filename);
function unused${n}() { return ${n}; }
`;

test('the first run writes the cache, the next reads it; the file runs as under require()', () => {
  writeFileSync(file, body(1));
  const first = run();
  assert.equal(first.use, 'none');
  assert.deepEqual(first.out, ['1 true true true']);
  assert.ok(existsSync(`${file}.v8-cache`), 'written when the process exited');
  const second = run();
  assert.equal(second.use, 'used');
  assert.deepEqual(second.out, first.out);
});

test('a changed file is compiled anew and its cache replaced, even at the same length; with source maps on, Node loads it itself', () => {
  // Same length as body(1): V8's own check would take the old cache and run the old bytecode.
  writeFileSync(file, body(2));
  const changed = run();
  assert.equal(changed.use, 'rejected');
  assert.deepEqual(changed.out, ['2 true true true'], 'the new source ran');
  assert.equal(run().use, 'used');
  const mapped = run(['--enable-source-maps']);
  assert.equal(mapped.use, 'source-maps');
  assert.deepEqual(mapped.out, ['2 true true true']);
});
