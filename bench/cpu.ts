/**
 * CPU use of the processes a benchmark involves, from /proc (Linux), like pidusage:
 * utime + stime of a process and all its descendants (cluster children included), sampled
 * once a second. The load generator is this process: process.cpuUsage().
 *
 * Services (Kafka, PostgreSQL, Redis, ClickHouse) are found by pid file or process name; they
 * are shared with anything else running on the machine, so their CPU is the host's, not only
 * this benchmark's. `machine` is the whole host (from /proc/stat) so a busy neighbour shows.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

let clkTck: number | undefined;
function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime, plus cutime + cstime (children it has reaped), in seconds. */
  cpuS: number;
}

/** Parses /proc/<pid>/stat; the command name may contain spaces and parentheses. */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const pid = Number(text.slice(0, open).trim());
  const comm = text.slice(open + 1, close);
  const rest = text.slice(close + 2).split(' ');
  // Fields after the name: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17),
  // numbered from 1. Reaped children count through their parent's cutime/cstime, so a tree's
  // total does not drop when a short-lived child (a PostgreSQL backend) exits.
  const ppid = Number(rest[1]);
  const ticks = Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14]);
  return { pid, ppid, comm, cpuS: ticks / ticksPerSecond() };
}

function allStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      out.push(parseProcStat(readFileSync(`/proc/${name}/stat`, 'utf8')));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** CPU seconds used so far by `root` and its descendants that are alive now. */
function treeCpu(stats: ProcStat[], roots: number[]): number {
  const children = new Map<number, ProcStat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const byPid = new Map(stats.map((s) => [s.pid, s]));
  let total = 0;
  const stack = roots.map((r) => byPid.get(r)).filter((s): s is ProcStat => s !== undefined);
  const seen = new Set<number>();
  while (stack.length) {
    const s = stack.pop()!;
    if (seen.has(s.pid)) continue;
    seen.add(s.pid);
    total += s.cpuS;
    stack.push(...(children.get(s.pid) ?? []));
  }
  return total;
}

function machineBusyS(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / ticksPerSecond(), total: total / ticksPerSecond() };
}

/** Who to watch: a process tree by root pid, or a finder run at every sample. */
export type CpuTarget = { name: string; pid: number } | { name: string; find: (stats: { pid: number; ppid: number; comm: string }[]) => number[] };

export interface CpuSample {
  /** ms since the sampler started. */
  t: number;
  /** Cumulative CPU seconds per target (a restarted process resets its own count). */
  cpuS: Record<string, number>;
}

export interface CpuWindow {
  /** Cores used on average (1.0 = one core busy the whole window), per target. */
  cores: Record<string, number>;
  seconds: number;
}

export class CpuSampler {
  readonly samples: CpuSample[] = [];
  readonly #targets = new Map<string, CpuTarget>();
  readonly #started = Date.now();
  #timer: NodeJS.Timeout | undefined;

  watch(target: CpuTarget): void {
    this.#targets.set(target.name, target);
  }

  unwatch(name: string): void {
    this.#targets.delete(name);
  }

  start(intervalMs = 1000): void {
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  sample(): CpuSample {
    const stats = allStats();
    const cpuS: Record<string, number> = {};
    for (const [name, t] of this.#targets) cpuS[name] = treeCpu(stats, 'pid' in t ? [t.pid] : t.find(stats));
    const self = process.cpuUsage();
    cpuS['load generator'] = (self.user + self.system) / 1e6;
    const m = machineBusyS();
    cpuS.machine = m.busy;
    cpuS['machine total'] = m.total;
    const s = { t: Date.now() - this.#started, cpuS };
    this.samples.push(s);
    return s;
  }

  /** Average cores per target between two samples. `machine` is in cores too (busy / wall). */
  static between(a: CpuSample, b: CpuSample): CpuWindow {
    const seconds = (b.t - a.t) / 1000;
    const cores: Record<string, number> = {};
    for (const name of Object.keys(b.cpuS)) {
      if (name === 'machine total' || !(name in a.cpuS)) continue;
      const used = b.cpuS[name]! - a.cpuS[name]!;
      // A target whose process restarted (count went down) is not reported for this window.
      if (used < 0) continue;
      cores[name] = seconds > 0 ? used / seconds : 0;
    }
    // Everything on the host that is not a watched target (other users' tests, the OS).
    const watched = Object.entries(cores).filter(([n]) => n !== 'machine').reduce((s, [, v]) => s + v, 0);
    if (cores.machine !== undefined) cores.other = Math.max(0, cores.machine - watched);
    return { cores, seconds };
  }
}

/** The usual services of a local Ferry, found by pid file (under .data/) or process name. */
export function serviceTargets(root: string): CpuTarget[] {
  const pidFile = (path: string) => {
    try {
      return existsSync(path) ? [Number(readFileSync(path, 'utf8').trim())] : [];
    } catch {
      return [];
    }
  };
  // Services another checkout started (a CI clone, say) have their pid files there: when ours
  // names no live process, find the process by its command line.
  const pidFileOr = (path: string, comm: string, cmdline: RegExp) => (stats: { pid: number; comm: string }[]) => {
    const own = pidFile(path).filter((pid) => stats.some((s) => s.pid === pid));
    if (own.length > 0) return own;
    return stats.filter((s) => s.comm === comm).map((s) => s.pid).filter((pid) => {
      try {
        return cmdline.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '));
      } catch {
        return false;
      }
    });
  };
  const queuePort = process.env.QUEUE_REDIS_PORT ?? '6380';
  const queueRedis = pidFileOr(`${root}/.data/redis-queue/redis.pid`, 'redis-server', new RegExp(`:${queuePort}\\b`));
  const byName =
    (comm: string, except: (stats: { pid: number; comm: string }[]) => number[] = () => []) => (stats: { pid: number; ppid: number; comm: string }[]) => {
      const skip = new Set(except(stats));
      const pids = new Set(stats.filter((s) => s.comm === comm && !skip.has(s.pid)).map((s) => s.pid));
      // Roots only: a process whose parent is also one of them is counted through the tree.
      return stats.filter((s) => pids.has(s.pid) && !pids.has(s.ppid)).map((s) => s.pid);
    };
  return [
    { name: 'kafka', find: pidFileOr(`${root}/.data/kafka/kafka.pid`, 'java', /kafka\.Kafka .*server\.properties/) },
    { name: 'clickhouse', find: byName('clickhouse-serv') },
    { name: 'postgresql', find: byName('postgres') },
    { name: 'redis', find: byName('redis-server', queueRedis) },
    { name: 'queue redis', find: queueRedis },
  ];
}
