/**
 * Builds dist/ferry.js (minified ES module, no dependencies) with esbuild and dist/*.d.ts with
 * the TypeScript compiler. `node --import tsx clients/browser/build.ts`; build.test.ts runs
 * bundle() in-process to hold the gzipped size under its budget.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { fromRoot } from '../../lib/paths.ts';

// From the root, as the gateway's bundle (dist/gateway/main.js) imports this module for /demo.
const here = fromRoot('clients/browser/');
export const ENTRY = fileURLToPath(new URL('src/ferry.ts', here));
export const DIST = fileURLToPath(new URL('dist/', here));
/** The budget for the minified and gzipped bundle. */
export const MAX_GZIP_BYTES = 5 * 1024;

export interface Bundle {
  code: string;
  bytes: number;
  gzipBytes: number;
}

/** The minified ES module, in memory. */
export async function bundle(): Promise<Bundle> {
  // Loaded here, not at the top: the gateway's bundle holds this module, and a production gateway
  // (no /demo, and no development dependencies installed) must not load esbuild.
  const esbuild = await import('esbuild');
  const out = await esbuild.build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    minify: true,
    // Browsers of the last few years: keepalive fetch, ??=, optional chaining.
    target: ['es2020', 'chrome90', 'firefox90', 'safari15'],
    write: false,
    legalComments: 'none',
  });
  const code = out.outputFiles[0]!.text;
  return { code, bytes: Buffer.byteLength(code), gzipBytes: gzipSync(code, { level: 9 }).length };
}

/** Declarations for dist/, with `.ts` imports renamed `.js` so they resolve beside ferry.js. */
export async function declarations(): Promise<Map<string, string>> {
  // Loaded here, not at the top: the development gateway imports bundle() and needs no compiler.
  const ts = (await import('typescript')).default;
  const files = new Map<string, string>();
  const program = ts.createProgram([ENTRY], {
    declaration: true,
    emitDeclarationOnly: true,
    allowImportingTsExtensions: true,
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: [],
    rootDir: fileURLToPath(new URL('src/', here)),
    outDir: DIST,
  });
  const result = program.emit(undefined, (name, text) => files.set(name, text.replace(/(from '\.\/[\w.-]+)\.ts'/g, "$1.js'")));
  const errors = ts.getPreEmitDiagnostics(program).concat(result.diagnostics);
  if (errors.length > 0) {
    throw new Error(ts.formatDiagnostics(errors, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => process.cwd(), getNewLine: () => '\n' }));
  }
  return files;
}

// By file name, not import.meta.url: inside the gateway's bundle that URL is dist/gateway/main.js.
if (process.argv[1] === fileURLToPath(new URL('build.ts', here))) {
  const b = await bundle();
  mkdirSync(DIST, { recursive: true });
  writeFileSync(`${DIST}ferry.js`, b.code);
  for (const [name, text] of await declarations()) writeFileSync(name, text);
  console.log(`dist/ferry.js: ${b.bytes} bytes, ${b.gzipBytes} gzipped (budget ${MAX_GZIP_BYTES})`);
}
