/**
 * A worker's start-up CPU: its utime + stime (/proc, every thread, tsx's loader thread included)
 * at the moment it logs "worker consuming", from the TypeScript source under tsx and from the
 * bundle scripts/build.ts writes, alternated so that both see the same machine. One worker
 * process (WORKER_PROCESSES=1) in an isolation of its own; the median of each, and their ratio.
 *
 *   node --import tsx bench/startup-cpu.ts [--runs N]     N of each, 5 by default
 */
import { parseArgs } from 'node:util';
import { build, builtPath } from '../scripts/build.ts';
import { isolate } from '../support/isolation.ts';
import { median, workerStartup } from './legs/u-startup.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Number(values.runs);
const VARIANTS = { source: 'workers/main.ts', built: builtPath('workers/main.ts') } as const;
type Variant = keyof typeof VARIANTS;

await build();
const iso = await isolate();
const samples: Record<Variant, { cpuS: number; wallS: number }[]> = { source: [], built: [] };
try {
  for (let i = 0; i < runs; i++) {
    const order: Variant[] = i % 2 ? ['built', 'source'] : ['source', 'built'];
    for (const v of order) samples[v].push(await workerStartup(VARIANTS[v], iso.env));
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
