/**
 * Child processes for the benchmark: support/processes.ts's startProcess with a name and the pid,
 * so their CPU can be sampled.
 */
import type { ChildProcess } from 'node:child_process';
import { freePort, startProcess } from '../support/processes.ts';
import { waitFor } from '../support/wait-for.ts';

export interface Child {
  name: string;
  child: ChildProcess;
  pid: number;
  output: () => string;
  /** Resolves with the exit code once the process ended. */
  exited: Promise<number | null>;
  /** SIGTERM (or `signal`), then the exit code. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

export function spawnNode(name: string, entry: string, env: Record<string, string>, nodeArgs: string[] = [], node?: string): Child {
  const proc = startProcess(entry, env, nodeArgs, node);
  return { name, pid: proc.child.pid!, ...proc };
}

/** Starts an HTTP server child on a free port (under `node`, by default this one) and waits until `readyPath` answers 200. */
export async function spawnServer(
  name: string,
  entry: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
  readyPath = '/healthz',
  node?: string,
): Promise<{ proc: Child; url: string }> {
  const port = await freePort();
  const proc = spawnNode(name, entry, { PORT: String(port), HOST: '127.0.0.1', ...env }, nodeArgs, node);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}${readyPath}`)).ok, { timeoutMs: 60_000, what: `${name} ready` }).catch((err: Error) => {
    void proc.stop('SIGKILL');
    throw new Error(`${err.message}\n${proc.output()}`);
  });
  return { proc, url };
}
