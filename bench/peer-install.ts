/**
 * The peer of ratio 5, @platformatic/kafka-hooks, installed on demand outside the project's
 * package.json into a cache directory (FERRY_BENCH_CACHE, by default $XDG_CACHE_HOME/ferry-bench or
 * ~/.cache/ferry-bench, then `peer/`). It needs Node >= 22.14; on an older Node the cache also gets
 * a Node binary from npm (`node-<platform>-<arch>`). A failed install is reported, not fatal.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';

/** The pinned versions. */
export const PEER_VERSIONS = {
  kafkaHooks: '0.6.4',
  /**
   * kafka-hooks asks for ^3.0.2, for which npm here picks 3.4.1, whose published files are the
   * CommonJS service of 2.x without the `create` kafka-hooks imports; 3.69.0 matches the
   * @platformatic/foundation it installs.
   */
  service: '3.69.0',
  /** For a Node older than kafka-hooks' engines (>= 22.14.0). */
  node: '22.23.5',
} as const;

export const PEER_MIN_NODE = [22, 14, 0] as const;

/** Whether Node `version` (e.g. "v20.20.2" or "22.14.0") is at least `min`. */
export function nodeAtLeast(version: string, min: readonly number[]): boolean {
  const v = version.replace(/^v/, '').split('.').map((x) => Number.parseInt(x, 10));
  for (let i = 0; i < min.length; i++) {
    const a = v[i] ?? 0;
    if (a !== min[i]) return a > min[i]!;
  }
  return true;
}

/** The cache's package.json: kafka-hooks, and a Node binary package when this Node is too old for it. */
export function peerManifest(
  nodeVersion: string,
  platform: string,
  arch: string,
): { private: true; description: string; dependencies: Record<string, string> } {
  const dependencies: Record<string, string> = {
    '@platformatic/kafka-hooks': PEER_VERSIONS.kafkaHooks,
    '@platformatic/service': PEER_VERSIONS.service,
  };
  if (!nodeAtLeast(nodeVersion, PEER_MIN_NODE)) dependencies[`node-${platform}-${arch}`] = PEER_VERSIONS.node;
  return { private: true, description: "Ferry's benchmark peer (bench/peer-install.ts); safe to delete", dependencies };
}

export function peerCacheDir(env: Record<string, string | undefined> = process.env): string {
  const base = env.FERRY_BENCH_CACHE ?? `${env.XDG_CACHE_HOME ?? `${homedir()}/.cache`}/ferry-bench`;
  return `${base}/peer`;
}

export type PeerInstall =
  | { available: true; dir: string; node: string; nodeVersion: string; tried: string[]; outcome: string }
  | { available: false; tried: string[]; outcome: string };

/** The Node binary the peer runs under in `dir`: this one when new enough, else the cache's. */
function peerNode(dir: string): string {
  if (nodeAtLeast(process.version, PEER_MIN_NODE)) return process.execPath;
  return `${dir}/node_modules/node-${process.platform}-${process.arch}/bin/node`;
}

/** The installed kafka-hooks' version and the Node version, or why the install in `dir` is not usable. */
function probe(dir: string): { ok: true; nodeVersion: string } | { ok: false; why: string } {
  const node = peerNode(dir);
  if (!existsSync(node)) return { ok: false, why: `no Node binary at ${node}` };
  try {
    // Importing it is the check: a package that installs but does not load is not usable.
    const out = execFileSync(node, [
      '--input-type=module',
      '-e',
      "const m = await import('@platformatic/kafka-hooks'); if (typeof m.create !== 'function') throw new Error('no create export'); console.log(process.version, m.version)",
    ], { cwd: dir, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    const [nodeVersion, hooksVersion] = out.split(' ');
    if (hooksVersion !== PEER_VERSIONS.kafkaHooks) return { ok: false, why: `kafka-hooks ${hooksVersion} installed, ${PEER_VERSIONS.kafkaHooks} wanted` };
    return { ok: true, nodeVersion: nodeVersion! };
  } catch (err) {
    return { ok: false, why: errorLines(err) };
  }
}

function errorLines(err: unknown): string {
  const e = err as { stderr?: string; stdout?: string; message?: string };
  const text = `${e.stderr ?? ''}\n${e.stdout ?? ''}`;
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => /error|ERR!/i.test(l)).slice(0, 3);
  return (lines.length ? lines.join('; ') : e.message ?? String(err)).slice(0, 400);
}

/**
 * The peer, from the cache when it holds this manifest's install, else installed by npm into a
 * fresh directory that replaces the cache's only once it loads.
 */
export function installPeer(options: { dir?: string; timeoutMs?: number } = {}): PeerInstall {
  const dir = options.dir ?? peerCacheDir();
  const manifest = `${JSON.stringify(peerManifest(process.version, process.platform, process.arch), null, 2)}\n`;
  const tried: string[] = [];
  const cached = existsSync(`${dir}/package.json`) && readFileSync(`${dir}/package.json`, 'utf8') === manifest;
  if (cached) {
    const p = probe(dir);
    if (p.ok) return { available: true, dir, node: peerNode(dir), nodeVersion: p.nodeVersion, tried, outcome: outcome(dir, p.nodeVersion, 'cached') };
    tried.push(`cached install in ${dir} unusable: ${p.why}`);
  }
  const staging = `${dir}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  writeFileSync(`${staging}/package.json`, manifest);
  const args = ['install', '--prefix', staging, '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'];
  tried.push(
    `npm ${args.join(' ').replace(staging, '<cache>')} (${Object.entries(JSON.parse(manifest).dependencies).map(([k, v]) => `${k}@${v}`).join(', ')})`,
  );
  try {
    execFileSync('npm', args, { cwd: staging, encoding: 'utf8', timeout: options.timeoutMs ?? 300_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    tried.push(`-> ${errorLines(err)}`);
    rmSync(staging, { recursive: true, force: true });
    return { available: false, tried, outcome: `installing ${peerName()} failed: ${errorLines(err)}` };
  }
  const p = probe(staging);
  if (!p.ok) {
    tried.push(`-> installed, but does not load: ${p.why}`);
    rmSync(staging, { recursive: true, force: true });
    return { available: false, tried, outcome: `${peerName()} installed but does not load: ${p.why}` };
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  return { available: true, dir, node: peerNode(dir), nodeVersion: p.nodeVersion, tried, outcome: outcome(dir, p.nodeVersion, 'installed') };
}

function peerName(): string {
  return `@platformatic/kafka-hooks@${PEER_VERSIONS.kafkaHooks}`;
}

function outcome(dir: string, nodeVersion: string, how: string): string {
  return `${peerName()} (${how} in ${dir}) under Node ${nodeVersion}.`;
}
