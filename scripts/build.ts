/**
 * The production build: each process entry bundled by esbuild to dist/<folder>/<name>.js, which
 * the Procfile and the npm scripts run with plain `node` (no TypeScript loader at start-up).
 *
 * The npm packages are bundled too. Node resolving, reading, compiling and (CommonJS imported
 * from ES modules) lexing some 450 files of node_modules one by one was most of a worker's
 * start-up CPU; one file of the same code costs a fraction of that (docs/benchmarks.md,
 * "Start-up CPU"). OpenTelemetry included: its API is one copy in each bundle, and the SDK, which
 * lib/tracing-sdk.ts imports dynamically, is evaluated only when tracing is configured.
 * Left in node_modules (EXTERNAL), which is therefore still deployed beside dist/:
 * - native addons, which load their binaries from their own folders: librdkafka
 *   (`@confluentinc/kafka-javascript`) and msgpackr's optional decoder (`msgpackr-extract`);
 * - bull-board, which serves its UI's files from its packages (the dashboard);
 * - esbuild and typescript, development tools that only the development gateway's /demo loads.
 * In the ES module output, the `require` of bundled CommonJS modules (node: built-ins, the
 * external packages) is the bundle's createRequire, and a module that names `__dirname` or
 * `__filename` gets those of its file in node_modules (moduleDirs below), as unbundled. Names
 * are not minified. Files Ferry itself reads at run time resolve from the project root
 * (lib/paths.ts).
 *
 * A worker is started far more often than the other processes (the supervisor restarts a crashed
 * member, autoscalers add members), so its entry (CODE_CACHED) is built as CommonJS,
 * dist/workers/main.cjs, that dist/workers/main.js runs with V8's code cache (lib/code-cache.ts):
 * Node 20 keeps no code cache for ES modules. The CommonJS build has the real `require`,
 * `__dirname` and `__filename`; `import.meta.url` becomes the file's URL, and `import()` a
 * `require()` (a script run from a code cache has no module loader for it).
 *
 *   npm run build          node --import tsx scripts/build.ts
 */
import { rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('../', import.meta.url));

/** Every entry the Procfile, the npm scripts or an operator starts with Node. */
export const ENTRIES: readonly string[] = [
  'gateway/main.ts',
  'workers/main.ts',
  'producer/main.ts',
  'dashboard/main.ts',
  'registry/main.ts',
  'cli/dlq.ts',
  'cli/migrate.ts',
  'cli/api-key.ts',
];

/** Entries run with V8's code cache (see above). */
export const CODE_CACHED: readonly string[] = ['workers/main.ts'];

/** Packages loaded from node_modules at run time rather than bundled (see above). */
export const EXTERNAL: readonly string[] = [
  '@confluentinc/kafka-javascript',
  'msgpackr-extract',
  '@bull-board/*',
  'esbuild',
  'typescript',
];

export const OUT_DIR = 'dist';

/** `gateway/main.ts` → `dist/gateway/main.js`. */
export function builtPath(entry: string): string {
  return `${OUT_DIR}/${entry.replace(/\.ts$/, '.js')}`;
}

// Every output is dist/<folder>/<name>.js: two levels below the project root.
const TO_ROOT = '../../';

/**
 * The bundle's own `require`, for the `require()` calls of bundled CommonJS modules (esbuild
 * turns them into calls of a global `require` when there is one), and the project root that
 * moduleDirs' paths start from.
 */
const BANNER = [
  "import { createRequire as __ferryCreateRequire } from 'node:module';",
  "import { fileURLToPath as __ferryFileURLToPath } from 'node:url';",
  'const require = __ferryCreateRequire(import.meta.url);',
  `const __ferryFromRoot = (path) => __ferryFileURLToPath(new URL(${JSON.stringify(TO_ROOT)} + path, import.meta.url));`,
].join(' ');

/** The CommonJS build's counterpart of BANNER: `require` is the real one there. */
const CJS_BANNER = [
  "const __ferryImportMetaUrl = require('node:url').pathToFileURL(__filename).href;",
  `const __ferryFromRoot = (path) => require('node:path').join(__dirname, ${JSON.stringify(TO_ROOT)}, path);`,
].join(' ');

/**
 * Gives a bundled module that uses `__dirname` or `__filename` without declaring them (ioredis
 * reads its version from its package.json; pino and bullmq find their worker files) the values
 * it would have in node_modules. Prepended on its first line, so the source map's lines stay right.
 */
const moduleDirs: esbuild.Plugin = {
  name: 'module-dirs',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/].*\.[cm]?js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!/\b__(dirname|filename)\b/.test(text) || /\b(var|let|const|function)\s+__(dirname|filename)\b/.test(text) || text.startsWith('#!')) return undefined;
      // From node_modules/ on (it may be a link to another checkout's; esbuild reads real paths).
      const path = args.path.split('\\').join('/');
      const file = path.slice(path.indexOf('/node_modules/') + 1);
      const dir = file.slice(0, file.lastIndexOf('/'));
      return {
        contents: `var __filename = __ferryFromRoot(${JSON.stringify(file)}), __dirname = __ferryFromRoot(${JSON.stringify(dir)});${text}`,
        loader: 'js',
      };
    });
  },
};

export async function build(): Promise<void> {
  for (const e of ENTRIES) if (e.split('/').length !== 2) throw new Error(`${e}: entries are <folder>/<name>.ts (the banner's paths count on it)`);
  // Nothing stale from a renamed or removed entry.
  rmSync(`${root}${OUT_DIR}`, { recursive: true, force: true });
  const common = {
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    target: 'node20',
    external: [...EXTERNAL],
    plugins: [moduleDirs],
    // Whitespace and syntax only: names stay as written, for stack traces, error names and the
    // libraries that read `constructor.name`.
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: true,
    logLevel: 'warning',
  } satisfies esbuild.BuildOptions;
  const out = (e: string) => e.replace(/\.ts$/, '');
  await Promise.all([
    esbuild.build({
      ...common,
      entryPoints: ENTRIES.filter((e) => !CODE_CACHED.includes(e)).map((e) => ({ in: e, out: out(e) })),
      outdir: OUT_DIR,
      format: 'esm',
      banner: { js: BANNER },
    }),
    ...CODE_CACHED.map(async (e) => {
      const name = out(e).split('/')[1]!;
      await esbuild.build({
        ...common,
        entryPoints: [{ in: e, out: out(e) }],
        outdir: OUT_DIR,
        outExtension: { '.js': '.cjs' },
        format: 'cjs',
        banner: { js: CJS_BANNER },
        define: { 'import.meta.url': '__ferryImportMetaUrl' },
        // import() becomes require(): V8 keeps no module loader with a code-cached script.
        supported: { 'dynamic-import': false },
      });
      await esbuild.build({
        ...common,
        stdin: {
          contents: `import { fileURLToPath } from 'node:url';\nimport { runCached } from './lib/code-cache.ts';\n` +
            `runCached(fileURLToPath(new URL(${JSON.stringify(`./${name}.cjs`)}, import.meta.url)));\n`,
          resolveDir: root,
          sourcefile: `${e} (code-cache loader)`,
          loader: 'ts',
        },
        outfile: builtPath(e),
        format: 'esm',
      });
    }),
  ]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  await build();
  console.log(`ferry: built ${ENTRIES.length} entries to ${OUT_DIR}/ in ${Math.round(performance.now() - started)} ms`);
}
