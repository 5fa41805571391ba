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
  const first = await workerStartup(entry, iso.env);
  const samples: { cpuS: number; wallS: number }[] = [];
  for (let i = 0; i < runs; i++) samples.push(await workerStartup(entry, iso.env));
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
    ],
    cpuCores: {},
    throughputSeries: [],
  };
}
