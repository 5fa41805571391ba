import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bundle, declarations, MAX_GZIP_BYTES } from './build.ts';

describe('clients/browser build', () => {
  it(`bundles to one ES module of at most ${MAX_GZIP_BYTES} bytes gzipped, importing nothing`, async () => {
    const b = await bundle();
    console.log(`ferry.js: ${b.bytes} bytes minified, ${b.gzipBytes} gzipped`);
    assert.ok(b.gzipBytes <= MAX_GZIP_BYTES, `${b.gzipBytes} bytes gzipped, over the budget of ${MAX_GZIP_BYTES}`);
    assert.doesNotMatch(b.code, /\bimport\s*[{*\w]|\bimport\(|require\(/, 'no imports: the bundle has no dependencies');
    assert.match(b.code, /export\s*\{/);
    // It runs as a module: its exports are there.
    const mod = (await import(`data:text/javascript;base64,${Buffer.from(b.code).toString('base64')}`)) as Record<string, unknown>;
    for (const name of ['createClient', 'ferry', 'default', 'uuid']) assert.ok(name in mod, name);
  });

  it('declarations import each other as .js, beside ferry.js', async () => {
    const files = await declarations();
    const names = [...files.keys()].map((f) => f.split('/').pop()).sort();
    assert.deepEqual(names, ['events.generated.d.ts', 'ferry.d.ts', 'queue.d.ts', 'retry.d.ts']);
    for (const text of files.values()) assert.doesNotMatch(text, /from '\.\/[^']+\.ts'/);
    const entry = [...files].find(([f]) => f.endsWith('/ferry.d.ts'))![1];
    assert.match(entry, /export declare function createClient/);
  });
});
