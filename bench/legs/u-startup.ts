/**
 * Leg u: a worker's start-up CPU: utime + stime of one worker process (WORKER_PROCESSES=1, both
 * groups) from spawn to its "worker consuming" line, the median of several starts after the first
 * one after the build (which writes the code cache; reported apart). It runs what
 * the Procfile runs (the bundle; --source runs the TypeScript under tsx), on a stack of its own
 * with empty topics, so the reading is start-up alone and not work.
 */
import { readFileSync } from 'node:fs';
import type { Isolated } from '../../support/isolation.ts';
import { startProcess } from '../../support/processes.ts';
import type { LegResult } from '../bench-result.ts';
import type { BenchContext } from '../context.ts';
import { parseProcStat } from '../cpu.ts';
import { type Quiet, waitForQuiet } from '../quiet.ts';
import { round } from '../stats.ts';

/** CPU seconds and wall seconds from spawn to the "worker consuming" line. */
export async function workerStartup(entry: string, env: Record<string, string>, nodeArgs: string[] = []): Promise<{ cpuS: number; wallS: number }> {
  const started = performance.now();
  const proc = startProcess(entry, { ...env, WORKER_PROCESSES: '1', LOG_LEVEL: 'info' }, nodeArgs);
  try {
    // On the output itself rather than polled, so the reading is taken as the line arrives.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${entry} not consuming after 60 s\n${proc.output()}`)), 60_000);
      const check = () => {
        if (!proc.output().includes('worker consuming')) return;
        clearTimeout(timer);
        proc.child.stdout!.off('data', check);
        resolve();
      };
      proc.child.stdout!.on('data', check);
      void proc.exited.then(() => reject(new Error(`${entry} exited\n${proc.output()}`)));
    });
    const wallS = (performance.now() - started) / 1000;
    const { cpuS } = parseProcStat(readFileSync(`/proc/${proc.child.pid}/stat`, 'utf8'));
    return { cpuS, wallS };
  } finally {
    await proc.stop();
  }
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function legU(ctx: BenchContext, iso: Isolated): Promise<LegResult> {
  const entry = ctx.entry('workers/main.ts');
  const runs = ctx.quick ? 1 : 5;
  // The first start after a build compiles the bundle and, when it exits, writes V8's code cache
  // of it (lib/code-cache.ts); every later start (a restart, another member) reads the cache. That
  // first start is reported apart, and the median is of the starts after it.
  ctx.log(`u-startup: a first worker start after the build, then ${runs} more, of ${entry}`);
  // Each start on a quiet machine: the stacks this run just set up (topics, databases,
  // migrations) and a previous run's clean-up keep the stores busy for a while, and a start that
  // shares the cores with them costs more CPU of its own.
  const quiet = (first: boolean) =>
    waitForQuiet(ctx.quick ? { forMs: 1000, timeoutMs: 10_000 } : { forMs: first ? 3000 : 2000, timeoutMs: first ? 60_000 : 20_000 });
  const waits: Quiet[] = [await quiet(true)];
  const first = await workerStartup(entry, iso.env);
  const samples: { cpuS: number; wallS: number }[] = [];
  for (let i = 0; i < runs; i++) {
    waits.push(await quiet(false));
    samples.push(await workerStartup(entry, iso.env));
  }
  const loud = waits.filter((w) => !w.quiet);
  const cpu = median(samples.map((s) => s.cpuS));
  ctx.log(
    `u-startup: median ${round(cpu)} CPU s (${samples.map((s) => round(s.cpuS)).join(', ')}), wall ${
      round(median(samples.map((s) => s.wallS)))
    } s; the first start after the build ${round(first.cpuS)} CPU s`,
  );
  return {
    id: 'u-startup',
    title: `worker start-up: CPU from spawn to consuming (${entry})`,
    kind: 'startup',
    unit: 'CPU s',
    value: cpu,
    valid: true,
    invalid: [],
    notes: [
      `CPU seconds of ${runs} starts: ${samples.map((s) => round(s.cpuS)).join(', ')} (median ${round(cpu)}); wall seconds median ${
        round(median(samples.map((s) => s.wallS)))
      }.`,
      `The first start after the build, which compiles the bundle and writes its code cache: ${round(first.cpuS)} CPU s (not in the median).`,
      loud.length === 0
        ? `Every start began on a quiet machine (under 15 % of the cores busy; waited ${round(waits.reduce((n, w) => n + w.waitedMs, 0) / 1000)} s in all).`
        : `${loud.length} of ${waits.length} starts began on a busy machine (${
          loud.map((w) => `${Math.round(w.busy * 100)} %`).join(', ')
        } of the cores busy after waiting): their CPU may be higher than on a quiet one.`,
    ],
    cpuCores: {},
    throughputSeries: [],
  };
}
