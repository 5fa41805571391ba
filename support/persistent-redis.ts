/**
 * A Redis of a test's or fault run's own that keeps everything on disk (appendonly, fsync on
 * every write, no eviction), as the queue Redis must: it can be SIGKILLed and started again on
 * the same port and directory, and what BullMQ held is back.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './processes.ts';
import { waitFor } from './wait-for.ts';

export interface PersistentRedis {
  port: number;
  url: string;
  /** SIGKILL, as a crash: nothing is flushed beyond what appendonly already wrote. */
  kill: () => Promise<void>;
  /** Starts it again on the same port and directory, and waits until it answers. */
  restart: () => Promise<void>;
  /** Kills it and removes its directory. */
  remove: () => Promise<void>;
}

export async function startPersistentRedis(): Promise<PersistentRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ferry-qredis-'));
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--maxmemory-policy',
        'noeviction',
        '--save',
        '',
      ],
      { stdio: 'ignore' },
    );
    await waitFor(async () => {
      const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => {});
      try {
        return (await probe.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        probe.disconnect();
      }
    }, { what: `the Redis on ${port} up`, timeoutMs: 15_000 });
  };
  const kill = async () => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((resolve) => p.once('exit', resolve));
    p.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    restart: start,
    remove: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
