/**
 * The one process supervisor behind every multi-process entry (gateway, workers): forks
 * `processes` children, restarts a child that exits with exponential backoff, and on
 * SIGTERM/SIGINT asks each child to stop, exiting once all have (or after `stopTimeoutMs`).
 * Call it only in the primary; children learn their slot from FERRY_PROCESS_INDEX.
 */
import cluster from 'node:cluster';
import type { Logger } from './logger.ts';

export interface SupervisorOptions {
  /** Children to keep running. */
  processes: number;
  logger: Logger;
  /** What a child is called in log lines. @defaultValue `process` */
  name?: string;
  /** First restart delay; doubles per restart of the same slot. @defaultValue 500 */
  restartBaseMs?: number;
  /** Longest restart delay. @defaultValue 30000 */
  restartMaxMs?: number;
  /** How long children get to stop before the supervisor exits anyway (status 1). @defaultValue 30000 */
  stopTimeoutMs?: number;
}

/** The slot a child was started in (0 in a process that is not a supervised child). */
export function processIndex(): number {
  return Number(process.env.FERRY_PROCESS_INDEX ?? 0);
}

export function supervise(options: SupervisorOptions): void {
  const { processes, logger, name = 'process', restartBaseMs = 500, restartMaxMs = 30_000, stopTimeoutMs = 30_000 } = options;
  let stopping = false;
  const restarts = new Map<number, number>();
  const start = (index: number) => {
    const child = cluster.fork({ FERRY_PROCESS_INDEX: String(index) });
    child.on('exit', (code, signal) => {
      if (stopping) return;
      const n = (restarts.get(index) ?? 0) + 1;
      restarts.set(index, n);
      const delay = Math.min(restartMaxMs, restartBaseMs * 2 ** Math.min(n, 6));
      logger.error({ index, code, signal, restartInMs: delay }, `${name} exited; restarting`);
      setTimeout(() => start(index), delay);
    });
  };
  for (let i = 0; i < processes; i++) start(i);
  cluster.on('exit', () => {
    if (stopping && Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  });
  const stop = () => {
    if (stopping) return;
    stopping = true;
    logger.info(`stopping ${name}es`);
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    setTimeout(() => process.exit(1), stopTimeoutMs).unref();
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
