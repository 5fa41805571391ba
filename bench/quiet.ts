/**
 * Waits until the machine is quiet: what other processes do at the same time (the stores
 * finishing the previous leg's deletes and merges, a previous run's clean-up) slows a measured
 * process on the same cores and costs it CPU time of its own, not only wall time. Leg u, whose
 * figure is a few tenths of a CPU second, is the one that needs it.
 */
import { readFileSync } from 'node:fs';

export interface QuietOptions {
  /** Busy share of all cores that counts as quiet. @defaultValue 0.15 */
  maxBusy?: number;
  /** How long it must stay quiet. @defaultValue 3000 */
  forMs?: number;
  /** Gives up after this long (and says so). @defaultValue 60 000 */
  timeoutMs?: number;
  /** @defaultValue 500 */
  intervalMs?: number;
}

export interface Quiet {
  quiet: boolean;
  waitedMs: number;
  /** The busy share over the last interval. */
  busy: number;
}

/** Busy and total jiffies of all cores, from /proc/stat's `cpu` line. */
export function cpuTimes(procStat: string): { busy: number; total: number } {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('no cpu line in /proc/stat');
  // user nice system idle iowait irq softirq steal (guest time is already in user and nice)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number) as number[];
  const busy = user! + nice! + system! + irq! + softirq! + (steal ?? 0);
  return { busy, total: busy + idle! + iowait! };
}

export async function waitForQuiet(options: QuietOptions = {}): Promise<Quiet> {
  const { maxBusy = 0.15, forMs = 3000, timeoutMs = 60_000, intervalMs = 500 } = options;
  const started = Date.now();
  let quietSince: number | undefined;
  let last = cpuTimes(readFileSync('/proc/stat', 'utf8'));
  let busy = 1;
  for (;;) {
    await new Promise((r) => setTimeout(r, intervalMs));
    const now = cpuTimes(readFileSync('/proc/stat', 'utf8'));
    busy = now.total > last.total ? (now.busy - last.busy) / (now.total - last.total) : 0;
    last = now;
    const t = Date.now();
    if (busy <= maxBusy) quietSince ??= t - intervalMs;
    else quietSince = undefined;
    if (quietSince !== undefined && t - quietSince >= forMs) return { quiet: true, waitedMs: t - started, busy };
    if (t - started >= timeoutMs) return { quiet: false, waitedMs: t - started, busy };
  }
}
