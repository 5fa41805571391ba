/** The ratios the report states, each from two legs (or one) of the run, with its target. */
import type { LegResult, Machine, Ratio } from './bench-result.ts';
import { DRAIN_SERVICES, drainCeiling, sustainedCeiling } from './drain-ceiling.ts';

function ratio(
  legs: Map<string, LegResult>,
  id: string,
  title: string,
  num: string,
  den: string | undefined,
  target: number,
  direction: '>=' | '<=',
  value?: (n: LegResult, d?: LegResult) => number,
  unit?: string,
): Ratio {
  const n = legs.get(num);
  const d = den ? legs.get(den) : undefined;
  const missing = [num, den].filter((x): x is string => x !== undefined && !legs.has(x));
  const bad = [n, d].filter((l): l is LegResult => l !== undefined && !l.valid).map((l) => l.id);
  const v = n && (!den || d) ? (value ? value(n, d) : n.value / d!.value) : Number.NaN;
  const why = missing.length ? `leg ${missing.join(', ')} not run` : bad.length ? `leg ${bad.join(', ')} invalid` : undefined;
  const met = why || !Number.isFinite(v) ? null : direction === '>=' ? v >= target : v <= target;
  return { id, title, numerator: num, denominator: den, value: v, target, direction, unit, met, why };
}

/** What the ratios need besides the legs. */
export interface RatioContext {
  /** Why the peer of goal 5 could not be run (bench/peer-install.ts), when it could not. */
  peerUnavailable?: string;
}

/** Goal 5: the gateway against @platformatic/kafka-hooks (leg g); unmet with the reason when the peer was not available. */
function peerRatios(legs: Map<string, LegResult>, unavailable: string | undefined): Ratio[] {
  const rs = [
    ratio(
      legs,
      '5 (single)',
      'gateway single-event req/s / @platformatic/kafka-hooks POST /topics/:topic req/s, same event, same Kafka',
      'g-gateway',
      'g-peer',
      1.5,
      '>=',
    ),
    ratio(
      legs,
      '5 (batch)',
      'gateway batch events/s / kafka-hooks single-message events/s (it has no batch publish)',
      'g-gateway-batch',
      'g-peer',
      1.5,
      '>=',
    ),
  ];
  return unavailable === undefined ? rs : rs.map((r) => ({ ...r, value: Number.NaN, met: null, why: `the peer was not run: ${unavailable}` }));
}

/**
 * The worker's CPU per drained event over Kafka's and the stores' (DRAIN_SERVICES) over the
 * whole drain of leg d: the worker processes are `worker-d` (and `analytics-d` with
 * --split-groups).
 */
export function workerOverStores(cpuUsPerEvent: Record<string, number> | undefined): number {
  if (!cpuUsPerEvent) return Number.NaN;
  const worker = Object.entries(cpuUsPerEvent).filter(([k]) => /^(worker|analytics)-d$/.test(k)).reduce((sum, [, v]) => sum + v, 0);
  const stores = DRAIN_SERVICES.reduce((sum, name) => sum + (cpuUsPerEvent[name] ?? 0), 0);
  return worker > 0 && stores > 0 ? worker / stores : Number.NaN;
}

/**
 * The goals the report leads with, each a ratio (or a bound) within one run: the pipeline as a
 * whole rather than each part against its own floor.
 */
export function goals(legs: Map<string, LegResult>, context: RatioContext = {}): Ratio[] {
  return [
    ratio(
      legs,
      '1',
      "worker CPU per drained event / Kafka's and the stores' CPU per drained event (leg d, whole drain)",
      'd-drain',
      undefined,
      1.0,
      '<=',
      (n) => workerOverStores(n.drainCpuUsPerEvent),
    ),
    ratio(legs, '2', 'whole pipeline sustained events/s, batches of 50 (s) / gateway batched ingest, no worker (b)', 's-sustained', 'b-gateway', 0.35, '>='),
    ratio(
      legs,
      '3',
      'p99 accepted -> PostgreSQL at half the sustained single-event rate (f)',
      'f-end-to-end',
      undefined,
      50,
      '<=',
      (n) => n.endToEnd?.postgresMs.p99 ?? Number.NaN,
      'ms',
    ),
    ratio(legs, '4', "a worker's start-up CPU, median (u)", 'u-startup', undefined, 0.3, '<=', (n) => n.value, 's'),
    ...peerRatios(legs, context.peerUnavailable),
  ];
}

/** Every part against its own floor; a leg not run or invalid leaves its ratio unmet with why. */
export function ratios(legs: Map<string, LegResult>, m: Machine): Ratio[] {
  return [
    ratio(legs, 'a', 'gateway single-event req/s / bare Hono handler', 'a-gateway', 'a-bare', 0.8, '>='),
    ...(legs.has('a-gateway-production')
      ? [
        ratio(
          legs,
          'a (production)',
          'informational: the same with NODE_ENV=production (API key, no CORS) / bare',
          'a-gateway-production',
          'a-bare',
          0.8,
          '>=',
        ),
      ]
      : []),
    ...(legs.has('a-bare-node-body')
      ? [
        ratio(
          legs,
          'a (same body path)',
          'informational: gateway / a bare handler reading the body as the gateway does',
          'a-gateway',
          'a-bare-node-body',
          0.8,
          '>=',
        ),
      ]
      : []),
    ratio(legs, 'b', 'gateway batch events/s / bare librdkafka producer', 'b-gateway', 'b-bare', 0.6, '>='),
    ratio(legs, 'c', '202 after Kafka ack / 202 after enqueue (req/s)', 'c-ack', 'c-enqueue', 0.85, '>='),
    ratio(legs, 'd', 'worker drain events/s / gateway sustained ingest events/s (b)', 'd-drain', 'b-gateway', 1.5, '>='),
    ...(legs.has('d-drain') && legs.has('b-gateway')
      ? [
        ratio(
          legs,
          'd (ceiling)',
          `informational: the most any worker could drain here (${m.nproc} cores / the stores' and Kafka's CPU per event over the whole d drain) / b`,
          'd-drain',
          'b-gateway',
          1.5,
          '>=',
          (n, d) => drainCeiling(n.drainCpuUsPerEvent, m.nproc).eventsPerS / d!.value,
        ),
        ratio(
          legs,
          'd (whole drain)',
          "informational: the backlog over the time from the worker's start to both groups' lag 0 (start-up included) / b",
          'd-drain',
          'b-gateway',
          1.5,
          '>=',
          (n, d) => (n.wholeDrainEventsPerS ?? Number.NaN) / d!.value,
        ),
      ]
      : []),
    ...(legs.has('d-drain') && legs.has('a-gateway')
      ? [
        ratio(
          legs,
          'd (single events)',
          'informational: worker drain events/s / gateway single-event ingest (a), one event per request as browsers send',
          'd-drain',
          'a-gateway',
          1.5,
          '>=',
        ),
      ]
      : []),
    ratio(legs, 'e', 'drain with 1% PostgreSQL failures / without', 'e-drain-failures', 'd-drain', 0.95, '>='),
    ...(legs.has('s-sustained') && legs.has('b-gateway')
      ? [
        ratio(
          legs,
          '2 (ceiling)',
          `informational: the most any gateway and worker could sustain here (${m.nproc} cores / Kafka's, the stores' and the load generator's CPU per event in s's held trial) / b`,
          's-sustained',
          'b-gateway',
          0.35,
          '>=',
          (n, d) => sustainedCeiling(n.cpuUsPerEvent, m.nproc).eventsPerS / d!.value,
        ),
      ]
      : []),
    // Leg f's p99 is goal 3 (goals() above), not repeated here.
  ];
}
