/** Child processes of tests and the benchmark: Ferry entries under Node, on free ports. */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { NODE_FLAGS } from '../lib/node-flags.ts';
import { waitFor } from './wait-for.ts';

const root = new URL('../', import.meta.url).pathname;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface Proc {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code once the process ended. */
  exited: Promise<number | null>;
  /** Sends SIGTERM (or `signal`) and resolves with the exit code. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/**
 * Runs an entry under Node with Ferry's V8 flags (lib/node-flags.ts, as the Procfile
 * does) and any extra node flags after them (e.g. --cpu-prof; later flags win), keeping the tail of
 * its output. The child stops by itself if this process dies first (support/exit-with-parent.cjs).
 * A `.ts` entry runs through tsx; a `.js` one (a bundle in dist/, scripts/build.ts) runs as it is,
 * as the Procfile runs it. `node` is the Node binary (another version's, for a peer that needs it).
 */
export function startProcess(entry: string, env: Record<string, string>, nodeArgs: string[] = [], node = process.execPath): Proc {
  const child = spawn(node, [
    ...NODE_FLAGS,
    ...nodeArgs,
    '--require',
    `${root}support/exit-with-parent.cjs`,
    ...(entry.endsWith('.ts') ? ['--import', 'tsx'] : []),
    entry,
  ], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return track(child);
}

/** A Proc for `child`: its output's tail, its exit, a stop. */
function track(child: ChildProcess): Proc {
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** The gateway from `entry` (dist/gateway/main.js for the built one). */
export async function startGateway(env: Record<string, string>, entry = 'gateway/main.ts'): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const proc = startProcess(entry, { GATEWAY_PROCESSES: '1', PORT: String(port), HOST: '127.0.0.1', ...env });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/readyz`)).ok, { timeoutMs: 60_000, what: `gateway ready\n${proc.output()}` }).catch((err) => {
    throw new Error(`${(err as Error).message}\n${proc.output()}`);
  });
  return { proc, url };
}

export function startWorker(env: Record<string, string>, entry = 'workers/main.ts'): Proc {
  return startProcess(entry, { WORKER_PROCESSES: '1', ...env });
}

/** The producer service (producer/main.ts) that edge gateways forward to, on `port` (a free one by default). */
export async function startProducerService(env: Record<string, string>, port?: number): Promise<{ proc: Proc; url: string }> {
  port ??= await freePort();
  const proc = startProcess('producer/main.ts', { ...env, PRODUCER_PORT: String(port), PRODUCER_HOST: '127.0.0.1' });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/readyz`)).ok, { timeoutMs: 60_000, what: 'producer service ready' }).catch((err) => {
    throw new Error(`${(err as Error).message}\n${proc.output()}`);
  });
  return { proc, url };
}

/**
 * The Deno edge gateway (gateway/main.deno.ts) with the `deno task edge` command line, run
 * directly so that its pid is the gateway's. Deno cannot preload exit-with-parent.cjs: the edge
 * is killed when this process exits, and callers stop it in a `finally`.
 */
export async function startEdge(env: Record<string, string>): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const task = (JSON.parse(readFileSync(`${root}deno.json`, 'utf8')) as { tasks: { edge: string } }).tasks.edge.split(/\s+/);
  const child = spawn(task[0]!, task.slice(1), {
    cwd: root,
    env: { ...process.env, HOST: '127.0.0.1', ...env, EDGE_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const orphan = () => child.kill('SIGKILL');
  process.once('exit', orphan);
  child.once('exit', () => process.off('exit', orphan));
  const proc = track(child);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/readyz`)).ok, { timeoutMs: 60_000, what: 'edge gateway ready' }).catch(async (err) => {
    await proc.stop();
    throw new Error(`${(err as Error).message}\n${proc.output()}`);
  });
  return { proc, url };
}
