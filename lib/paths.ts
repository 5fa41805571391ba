/**
 * The project root: the nearest folder above this module that holds package.json. Files read at
 * run time (schemas/, migrations/, dashboard/console/, clients/browser/) resolve from it, so they
 * are found the same from the TypeScript source and from a bundle in dist/<folder>/.
 */
import { existsSync } from 'node:fs';

export const ROOT: URL = findRoot(new URL('./', import.meta.url));

/** `path` (relative, folders ending in `/`) under the project root. */
export function fromRoot(path: string): URL {
  return new URL(path, ROOT);
}

function findRoot(from: URL): URL {
  for (let dir = from;;) {
    if (existsSync(new URL('package.json', dir))) return dir;
    const up = new URL('../', dir);
    if (up.href === dir.href) throw new Error(`no package.json in ${from.href} or above it`);
    dir = up;
  }
}
