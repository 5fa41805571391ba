// GC pauses of a gateway or worker the benchmark starts, for judging heap settings:
//   BENCH_NODE_FLAGS="--import ./bench/hooks/gc-pauses.mjs" npm run bench -- --legs d,f
// At exit each gateway or worker process appends one line to bench/results/gc-pauses.txt:
// per kind of collection its count, total, p50, p99 and longest pause in ms.
/* global process, URL */
import { appendFileSync, mkdirSync } from 'node:fs';
import { constants, PerformanceObserver } from 'node:perf_hooks';

const entry = process.argv.find((a) => a.endsWith('workers/main.ts') || a.endsWith('gateway/main.ts'));
if (entry) {
  const role = entry.endsWith('workers/main.ts') ? 'worker' : 'gateway';
  const kinds = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-callbacks',
  };
  const pauses = {};
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) (pauses[kinds[e.detail?.kind] ?? 'other'] ??= []).push(e.duration);
  }).observe({ entryTypes: ['gc'] });
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    const parts = Object.entries(pauses).map(([kind, ms]) => {
      ms.sort((a, b) => a - b);
      const q = (p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))].toFixed(1);
      return `${kind} n=${ms.length} total=${ms.reduce((a, b) => a + b, 0).toFixed(0)} p50=${q(0.5)} p99=${q(0.99)} max=${ms[ms.length - 1].toFixed(1)}`;
    });
    const dir = new URL('../results/', import.meta.url);
    mkdirSync(dir, { recursive: true });
    appendFileSync(
      new URL('gc-pauses.txt', dir),
      `${new Date().toISOString()} ${role} pid ${process.pid} ${process.execArgv.filter((a) => a.startsWith('--max')).join(' ')}: ${parts.join(' | ')}\n`,
    );
  };
  // The entries' own handlers exit on these signals; 'exit' runs after them.
  process.on('exit', write);
}
