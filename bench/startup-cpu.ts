/**
 * A worker's start-up CPU: its utime + stime (/proc, every thread, tsx's loader thread included)
 * at the moment it logs "worker consuming", from the TypeScript source under tsx and from the
 * bundle scripts/build.ts writes, alternated so that both see the same machine. One worker
 * process (WORKER_PROCESSES=1) in an isolation of its own; the median of each, and their ratio.
 *
 *   node --import tsx bench/startup-cpu.ts [--runs N]     N of each, 5 by default
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { build, builtPath } from '../scripts/build.ts';
import { isolate } from '../support/isolation.ts';
import { startProcess } from '../support/processes.ts';
import { parseProcStat } from './cpu.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Number(values.runs);
const VARIANTS = { source: 'workers/main.ts', built: builtPath('workers/main.ts') } as const;
type Variant = keyof typeof VARIANTS;

/** CPU seconds and wall seconds from spawn to the "worker consuming" line. */
async function startOnce(entry: string, env: Record<string, string>): Promise<{ cpuS: number; wallS: number }> {
  const started = performance.now();
  const proc = startProcess(entry, { ...env, WORKER_PROCESSES: '1', LOG_LEVEL: 'info' });
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

await build();
const iso = await isolate();
const samples: Record<Variant, { cpuS: number; wallS: number }[]> = { source: [], built: [] };
try {
  for (let i = 0; i < runs; i++) {
    const order: Variant[] = i % 2 ? ['built', 'source'] : ['source', 'built'];
    for (const v of order) samples[v].push(await startOnce(VARIANTS[v], iso.env));
  }
} finally {
  await iso.cleanup();
}
for (const v of ['source', 'built'] as const) {
  const cpu = samples[v].map((s) => s.cpuS);
  console.log(
    `${v.padEnd(6)} ${VARIANTS[v].padEnd(20)} CPU s median ${median(cpu).toFixed(2)} (${cpu.map((c) => c.toFixed(2)).join(' ')}), wall s median ${
      median(samples[v].map((s) => s.wallS)).toFixed(2)
    }`,
  );
}
console.log(`built / source CPU: ${(median(samples.built.map((s) => s.cpuS)) / median(samples.source.map((s) => s.cpuS))).toFixed(2)}`);
