/**
 * The production build: each process entry bundled by esbuild to dist/<folder>/<name>.js, which
 * the Procfile and the npm scripts run with plain `node` (no TypeScript loader at start-up).
 * Dependencies stay in node_modules (`packages: 'external'`): the native librdkafka addon and
 * the packages that read their own files (bull-board's UI) load as they do from the source.
 * Files Ferry reads at run time resolve from the project root (lib/paths.ts).
 *
 *   npm run build          node --import tsx scripts/build.ts
 */
import { rmSync } from 'node:fs';
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

export const OUT_DIR = 'dist';

/** `gateway/main.ts` → `dist/gateway/main.js`. */
export function builtPath(entry: string): string {
  return `${OUT_DIR}/${entry.replace(/\.ts$/, '.js')}`;
}

export async function build(): Promise<esbuild.BuildResult> {
  // Nothing stale from a renamed or removed entry.
  rmSync(`${root}${OUT_DIR}`, { recursive: true, force: true });
  return esbuild.build({
    absWorkingDir: root,
    entryPoints: ENTRIES.map((e) => ({ in: e, out: e.replace(/\.ts$/, '') })),
    outdir: OUT_DIR,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  await build();
  console.log(`ferry: built ${ENTRIES.length} entries to ${OUT_DIR}/ in ${Math.round(performance.now() - started)} ms`);
}
