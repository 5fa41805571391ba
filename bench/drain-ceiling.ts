/**
 * The fastest drain this machine allows whatever the worker does: the stores and Kafka must
 * still spend their own CPU on every event (PostgreSQL's statements, ClickHouse's parsing and
 * merges, Redis's scripts, Kafka's fetches), and they share the machine's cores with the worker.
 * With the worker costing nothing, a drain could go no faster than all cores / the stores' CPU
 * per drained event. Ratio d divided by this ceiling's ratio says how much of the possible the
 * worker reaches; a ceiling below d's target says the target cannot be met on this machine
 * with the stores on it, however fast the worker gets.
 */
import type { LegResult } from './bench-result.ts';

/** The processes a drain needs besides Ferry's worker (names of bench/cpu.ts's service targets). */
export const DRAIN_SERVICES = ['kafka', 'postgresql', 'clickhouse', 'redis', 'queue redis'] as const;

export interface DrainCeiling {
  /** Events/s with every core spent on the services and none on the worker. */
  eventsPerS: number;
  /** The services' CPU per drained event, µs of a core. */
  servicesUsPerEvent: number;
}

/** NaN when the drain has no rate or no service CPU was measured. */
export function drainCeiling(drain: Pick<LegResult, 'value' | 'cpuCores'>, cores: number): DrainCeiling {
  const servicesCores = DRAIN_SERVICES.reduce((sum, name) => sum + (drain.cpuCores[name] ?? 0), 0);
  if (!(drain.value > 0) || !(servicesCores > 0) || !(cores > 0)) return { eventsPerS: Number.NaN, servicesUsPerEvent: Number.NaN };
  const perEvent = servicesCores / drain.value;
  return { eventsPerS: cores / perEvent, servicesUsPerEvent: perEvent * 1e6 };
}
