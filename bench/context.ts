/**
 * What every benchmark leg shares, passed to each leg explicitly: the settings, the log, the CPU
 * sampler, the Kafka admin, and the stacks and child processes to clean up at the end.
 */
import { existsSync, readdirSync } from 'node:fs';
import { builtPath, ENTRIES } from '../scripts/build.ts';
import { isolate, type Isolated } from '../support/isolation.ts';
import { CpuSampler, serviceTargets } from './cpu.ts';
import { type Child, spawnNode, spawnServer } from './procs.ts';
import { formatProfile, summarizeProfileFile } from './profile-summary.ts';
import { KafkaAdmin } from './sinks.ts';

export type BenchSettings = ReturnType<typeof benchSettings>;

export function benchSettings(options: { quick: boolean; connections?: string; splitGroups: boolean }) {
  const quick = options.quick;
  return {
    /** Seconds of warm-up before every measured HTTP leg. */
    warmupS: quick ? 1 : 5,
    measureS: quick ? 3 : 15,
    /** Alternating rounds of the paired legs (a, c), sharing measureS per side. */
    rounds: quick ? 1 : 3,
    connections: Number(options.connections ?? 64),
    /** Offered req/s of the saturation legs: far above what one process can answer. */
    offeredSingle: 50_000,
    offeredBatch: 5_000,
    batch: 100,
    ordersRatio: 0.5,
    keys: 1000,
    phases: 10,
    backlogEvents: quick ? 20_000 : 150_000,
    fWarmupS: quick ? 1 : 5,
    fMeasureS: quick ? 4 : 20,
    drainTimeoutS: quick ? 60 : 240,
    gatewayProcesses: 1,
    workerProcesses: 1,
    /** Read model and analytics in worker processes of their own (--split-groups). */
    splitGroups: options.splitGroups,
    loadGeneratorLimitCores: 0.9,
  };
}

export interface BenchOptions {
  root: string;
  /** Where this run's files go (profiles too). */
  runDir: string;
  quick: boolean;
  /** node --cpu-prof on the Ferry processes. */
  profile: boolean;
  settings: BenchSettings;
  /** --f-rate: leg f offers this many req/s instead of half the sustained rate. */
  fRate?: number;
  /**
   * Ferry's own entries (scripts/build.ts ENTRIES) run from the bundles in dist/, as the Procfile
   * runs them; false (--source) runs the TypeScript under tsx. @defaultValue true
   */
  built?: boolean;
}

export function benchLog(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

export class BenchContext {
  readonly sampler = new CpuSampler();
  readonly kafka = new KafkaAdmin((process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','));
  /** Topics made outside a stack (the bare producer's, the peer's), deleted at the end. */
  readonly topics: string[] = [];
  /** CPU profile summaries by process and file (--profile). */
  readonly profiles: Record<string, unknown> = {};
  readonly #live = new Set<Child>();
  readonly #cleanups: (() => Promise<unknown>)[] = [];
  #sequence = 0;

  constructor(
    readonly options: BenchOptions,
    readonly log: (line: string) => void = benchLog,
  ) {
    for (const t of serviceTargets(options.root)) this.sampler.watch(t);
  }

  get settings(): BenchSettings {
    return this.options.settings;
  }

  get quick(): boolean {
    return this.options.quick;
  }

  get profile(): boolean {
    return this.options.profile;
  }

  /** A number never handed out before in this run, for names that must not repeat. */
  nextSequence(): number {
    return this.#sequence++;
  }

  nodeArgs(name: string): string[] {
    const extra = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
    return [...extra, ...(this.profile ? ['--cpu-prof', `--cpu-prof-dir=${this.options.runDir}/profiles/${name}`] : [])];
  }

  /** An isolated stack, dropped at the end. */
  async stack(): Promise<Isolated> {
    // Its cleanup drops its topics with the rest; `topics` is for topics made outside a stack.
    const iso = await isolate({ LOG_LEVEL: 'warn' });
    this.#cleanups.push(() => iso.cleanup());
    return iso;
  }

  gatewayEnv(iso: Isolated): Record<string, string> {
    return { ...iso.env, GATEWAY_PROCESSES: String(this.settings.gatewayProcesses) };
  }

  workerEnv(iso: Isolated): Record<string, string> {
    return { ...iso.env, WORKER_PROCESSES: String(this.settings.workerProcesses) };
  }

  /** Samples the CPU of `proc` and kills it at the end if it still runs. */
  watch(proc: Child): Child {
    this.sampler.watch({ name: proc.name, pid: proc.pid });
    this.#live.add(proc);
    return proc;
  }

  /** What to start for `entry`: a Ferry entry's bundle (unless --source), anything else as it is. */
  entry(entry: string): string {
    return this.options.built !== false && ENTRIES.includes(entry) ? builtPath(entry) : entry;
  }

  /** Starts a Node child under `name` (its CPU and profile go by that name) and watches it. */
  spawn(name: string, entry: string, env: Record<string, string>): Child {
    return this.watch(spawnNode(name, this.entry(entry), env, this.nodeArgs(name)));
  }

  /** Starts a server child under `name` (under the Node binary `node`, by default this one) and watches it. */
  async server(name: string, entry: string, env: Record<string, string>, readyPath = '/healthz', node?: string): Promise<{ proc: Child; url: string }> {
    const s = await spawnServer(name, this.entry(entry), env, this.nodeArgs(name), readyPath, node);
    this.watch(s.proc);
    return s;
  }

  async stop(proc: Child | undefined): Promise<void> {
    if (!proc) return;
    const code = await proc.stop();
    this.#live.delete(proc);
    this.sampler.unwatch(proc.name);
    if (code !== 0) this.log(`${proc.name} exited with ${code}\n${proc.output().slice(-2000)}`);
    if (this.profile) {
      const dir = `${this.options.runDir}/profiles/${proc.name}`;
      if (existsSync(dir)) {
        for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) {
          const s = summarizeProfileFile(`${dir}/${f}`);
          this.profiles[`${proc.name}/${f}`] = s;
          this.log(formatProfile(`${proc.name} (${f})`, s));
        }
      }
    }
  }

  /** Kills what still runs, drops the stacks and deletes the topics; logs what fails. */
  async close(): Promise<void> {
    this.sampler.stop();
    for (const p of this.#live) await p.stop('SIGKILL');
    for (const c of this.#cleanups.reverse()) await c().catch((err: Error) => this.log(`cleanup: ${err.message}`));
    if (this.topics.length) await this.kafka.deleteTopics(this.topics).catch((err: Error) => this.log(`deleting topics: ${err.message}`));
    await this.kafka.close().catch(() => {});
  }
}
