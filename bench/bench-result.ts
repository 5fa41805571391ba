/** The shape of one benchmark run, as bench.ts writes it and report.ts renders it. */
import type { HistogramDigest } from './prom.ts';
import type { Summary } from './stats.ts';

export interface Machine {
  nproc: number;
  memoryGiB: number;
  cpuModel: string;
  kernel: string;
  node: string;
  /** 1, 5, 15 minute load averages at the start and the end of the run. */
  loadAverageStart: number[];
  loadAverageEnd: number[];
}

export interface Point {
  /** Seconds since the leg's measurement started. */
  t: number;
  v: number;
}

export interface LegResult {
  id: string;
  title: string;
  kind: 'http' | 'producer' | 'drain' | 'e2e' | 'startup';
  unit: 'req/s' | 'events/s' | 'CPU s';
  /** The leg's throughput in `unit` (steady window). */
  value: number;
  /** Events per second, when a request carries several. */
  eventsPerS?: number;
  valid: boolean;
  /** Why the leg is invalid (it is then not used in a ratio). */
  invalid: string[];
  notes: string[];
  offered?: number;
  connections?: number;
  durationS?: number;
  latencyMs?: Summary;
  latencyCorrectedMs?: Summary;
  distribution?: { percentile: number; ms: number }[];
  statusCounts?: Record<string, number>;
  errors?: number;
  /** Average cores per process over the measured window. */
  cpuCores: Record<string, number>;
  /**
   * Drain legs: µs of CPU per backlog event for each process over the whole drain, from the
   * worker's start until both groups' lag was 0 (all the work the backlog caused, wherever it
   * fell relative to the rate's window).
   */
  drainCpuUsPerEvent?: Record<string, number>;
  /**
   * Leg s: µs of CPU per accepted event for each process over the best held trial, from its
   * load's start until every accepted event was in the sinks.
   */
  cpuUsPerEvent?: Record<string, number>;
  /** Drain legs: the backlog over the time from the worker's start until both groups' lag was 0 (start-up included). */
  wholeDrainEventsPerS?: number;
  throughputSeries: Point[];
  lagSeries?: Point[];
  endToEnd?: { postgresMs: Summary; clickhouseMs: Summary; allSinksMs?: Summary };
  check?: { ok: boolean; lost: number; duplicates: number; phantoms: number; mergePending: number; detail?: unknown };
  /** The process's own Prometheus histograms over the measured window (seconds; counts). */
  metrics?: Record<string, HistogramDigest>;
}

export interface Ratio {
  id: string;
  title: string;
  numerator: string;
  denominator?: string;
  value: number;
  target: number;
  direction: '>=' | '<=';
  unit?: string;
  /** null when a leg it needs is invalid or missing. */
  met: boolean | null;
  why?: string;
}

export interface BenchResult {
  mode: 'full' | 'quick';
  profiled: boolean;
  startedAt: string;
  durationS: number;
  machine: Machine;
  settings: Record<string, unknown>;
  legs: LegResult[];
  /** The goals the report leads with (ratios.ts goals()). */
  goals: Ratio[];
  /** Each part against its own floor (ratios.ts ratios()). */
  ratios: Ratio[];
  bridge: { available: boolean; tried: string[]; outcome: string };
  /** The peer of ratio 5 (leg g), when leg g was asked for: what was installed or why not. */
  peer?: { available: boolean; tried: string[]; outcome: string };
  profiles?: Record<string, unknown>;
  commands: string[];
}
