/**
 * Runs a CommonJS bundle with V8's code cache, so a process that starts often (a worker: the
 * supervisor restarts crashed members, autoscalers add them) does not parse and compile the
 * same 2 MB of JavaScript each time. Node 22 does this itself (`module.enableCompileCache`);
 * Node 20, which Ferry runs on, has only `vm.Script`'s `cachedData`, hence this file.
 *
 * The cache is written when the process exits (or after `writeAfterMs`, for one that runs on),
 * so it holds every function compiled by then, not only the top level: the first start after a
 * build compiles and writes, the later ones read. A cache of another source (by its hash), or one
 * V8 refuses (another version of V8, other flags), is ignored and written again. Writing is atomic (a
 * temporary file renamed), so members starting together never read half a cache, and a cache
 * that cannot be written (a read-only deployment) only costs the compile.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

export interface CodeCacheOptions {
  /** Where the cache is kept. @defaultValue `<file>.v8-cache` */
  cacheFile?: string;
  /** When a process that has not exited yet writes the cache. @defaultValue 60 000 */
  writeAfterMs?: number;
}

/** How the bundle was compiled: from the cache, or not (and why). */
export type CodeCacheUse = 'used' | 'none' | 'rejected' | 'source-maps';

/**
 * Loads and runs the CommonJS file `file` (absolute path) as `require(file)` would. The file
 * must not call `import()`: a script compiled from a code cache has no module loader to answer
 * it (scripts/build.ts turns the bundle's into `require()`).
 */
export function runCached(file: string, options: CodeCacheOptions = {}): CodeCacheUse {
  const require = createRequire(file);
  // Stack traces mapped back to the TypeScript need Node's own loader: it maps only what it compiles.
  if (process.sourceMapsEnabled) {
    require(file);
    return 'source-maps';
  }
  const cacheFile = options.cacheFile ?? `${file}.v8-cache`;
  const source = readFileSync(file, 'utf8');
  // Read slowly: V8 checks a cache against the source's length only, and would run the bytecode
  // of an older build of the same length. The cache file therefore starts with the source's hash.
  const digest = createHash('sha1').update(source).digest();
  let cachedData: Buffer | undefined;
  let stale = false;
  try {
    const stored = readFileSync(cacheFile);
    if (stored.subarray(0, digest.length).equals(digest)) cachedData = stored.subarray(digest.length);
    else stale = true;
  } catch {
    // None yet: this start writes it.
  }
  const script = new Script(Module.wrap(source), { filename: file, cachedData });
  const use: CodeCacheUse = stale || script.cachedDataRejected ? 'rejected' : cachedData === undefined ? 'none' : 'used';
  const module = new Module(file);
  module.filename = file;
  if (use !== 'used') {
    let written = false;
    const write = () => {
      if (written) return;
      written = true;
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      try {
        writeFileSync(tmp, Buffer.concat([digest, script.createCachedData()]));
        renameSync(tmp, cacheFile);
      } catch {
        rmSync(tmp, { force: true });
      }
    };
    process.once('exit', write);
    setTimeout(write, options.writeAfterMs ?? 60_000).unref();
  }
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;
  wrapper.call(module.exports, module.exports, require, module, file, dirname(file));
  module.loaded = true;
  return use;
}
