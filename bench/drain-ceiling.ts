/**
 * The fastest drain this machine allows whatever the worker does: the stores and Kafka must
 * still spend their own CPU on every event (PostgreSQL's statements, ClickHouse's parsing and
 * merges, Redis's scripts, Kafka's fetches), and they share the machine's cores with the worker.
 * With the worker costing nothing, a drain could go no faster than all cores / the stores' CPU
 * per drained event. Ratio d divided by this ceiling's ratio says how much of the possible the
 * worker reaches; a ceiling below d's target says the target cannot be met on this machine
 * with the stores on it, however fast the worker gets.
 */

/** The processes a drain needs besides Ferry's worker (names of bench/cpu.ts's service targets). */
export const DRAIN_SERVICES = ['kafka', 'postgresql', 'clickhouse', 'redis', 'queue redis'] as const;

export interface DrainCeiling {
  /** Events/s with every core spent on the services and none on the worker. */
  eventsPerS: number;
  /** The services' CPU per drained event, µs of a core. */
  servicesUsPerEvent: number;
}

/**
 * @param cpuUsPerEvent µs of CPU per drained event for each process, over the whole drain
 *   (LegResult.drainCpuUsPerEvent): a window that saw only part of a group's work would make
 *   the services look cheaper than they are.
 * @returns NaN when no service CPU was measured.
 */
export function drainCeiling(cpuUsPerEvent: Record<string, number> | undefined, cores: number): DrainCeiling {
  return ceiling(cpuUsPerEvent, cores, DRAIN_SERVICES);
}

/** All cores over what `others` spend per event. */
function ceiling(cpuUsPerEvent: Record<string, number> | undefined, cores: number, others: readonly string[]): DrainCeiling {
  const us = others.reduce((sum, name) => sum + (cpuUsPerEvent?.[name] ?? 0), 0);
  if (!(us > 0) || !(cores > 0)) return { eventsPerS: Number.NaN, servicesUsPerEvent: Number.NaN };
  return { eventsPerS: (cores * 1e6) / us, servicesUsPerEvent: us };
}

/** What the pipeline under load needs besides Ferry's gateway and worker; the load generator shares the machine here. */
const SUSTAINED_OTHERS = [...DRAIN_SERVICES, 'load generator'] as const;

/**
 * The same bound for the whole pipeline under load (leg s, goal 2): with the gateway and the
 * worker costing nothing, the machine's cores still go to Kafka, the stores and the load
 * generator, so no pipeline could hold more than all cores / their CPU per accepted event.
 * @param cpuUsPerEvent µs of CPU per accepted event for each process (leg s's LegResult.cpuUsPerEvent).
 */
export function sustainedCeiling(cpuUsPerEvent: Record<string, number> | undefined, cores: number): DrainCeiling {
  return ceiling(cpuUsPerEvent, cores, SUSTAINED_OTHERS);
}
