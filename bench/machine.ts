/** The machine a run ran on, for the report. */
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import type { Machine } from './bench-result.ts';

export function machine(): Machine {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    cpuModel = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? cpuModel;
  } catch {
    // not Linux
  }
  return {
    nproc: cpus().length,
    memoryGiB: totalmem() / 2 ** 30,
    cpuModel,
    kernel: `Linux ${release()}`,
    node: process.version,
    loadAverageStart: loadavg(),
    loadAverageEnd: [],
  };
}
