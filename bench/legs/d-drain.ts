/** Leg d: the worker's drain rate with every sink written, set against the gateway's ingest (b). */
import type { Isolated } from '../../support/isolation.ts';
import type { LegResult } from '../bench-result.ts';
import type { BenchContext } from '../context.ts';
import { drainLeg, type Running } from '../drain.ts';

/** With `keepRunning`, the gateway and worker stay up for leg f (the caller stops them). */
export function legD(ctx: BenchContext, iso: Isolated, keepRunning: boolean): Promise<{ leg: LegResult } & Running> {
  return drainLeg(ctx, iso, 'd-drain', keepRunning);
}
