/** Leg e: the worker's drain rate with 1% of PostgreSQL writes failing once, against leg d's. */
import type { Isolated } from '../../support/isolation.ts';
import type { LegResult } from '../bench-result.ts';
import type { BenchContext } from '../context.ts';
import { drainLeg, meanOfDrains } from '../drain.ts';

/**
 * With leg d (`d`: its stack and result) in a full run, d and e alternate as d e e d (each a
 * fresh backlog on its own stack), so that drift of the shared machine falls on both alike;
 * each side is then the mean of its two drains, and d's result is replaced.
 */
export async function legE(ctx: BenchContext, iso: Isolated, d?: { iso: Isolated; leg: LegResult }): Promise<LegResult[]> {
  const e1 = (await drainLeg(ctx, iso, 'e-drain-failures', false)).leg;
  if (!d || ctx.quick) return [e1];
  const e2 = (await drainLeg(ctx, iso, 'e-drain-failures', false)).leg;
  const d2 = (await drainLeg(ctx, d.iso, 'd-drain', false)).leg;
  return [meanOfDrains(d.leg, d2, 'd e e d'), meanOfDrains(e1, e2, 'd e e d')];
}
