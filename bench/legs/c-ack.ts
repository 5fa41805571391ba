/** Leg c: the gateway app answering 202 after Kafka's ack against right after librdkafka's enqueue. */
import type { Isolated } from '../../support/isolation.ts';
import type { LegResult } from '../bench-result.ts';
import type { BenchContext } from '../context.ts';
import { pairedHttpLegs, pool } from '../measure.ts';

export async function legC(ctx: BenchContext, iso: Isolated): Promise<LegResult[]> {
  const requests = pool(ctx, 1, 500);
  const ack = await ctx.server('app-ack', 'bench/servers/producer-modes-server.ts', { ...ctx.gatewayEnv(iso), MODE: 'ack' }, '/readyz');
  const enqueue = await ctx.server('app-enqueue', 'bench/servers/producer-modes-server.ts', { ...ctx.gatewayEnv(iso), MODE: 'enqueue' }, '/readyz');
  try {
    const legs = await pairedHttpLegs(
      ctx,
      { id: 'c-ack', title: 'gateway app: 202 after Kafka ack', url: ack.url },
      { id: 'c-enqueue', title: 'gateway app: 202 right after librdkafka enqueue', url: enqueue.url },
      requests,
      1,
      ctx.settings.offeredSingle,
    );
    for (const [leg, s] of [[legs[0], ack], [legs[1], enqueue]] as const) {
      const stats = (await (await fetch(`${s.url}/bench/stats`)).json()) as { lateFailures: number };
      if (stats.lateFailures > 0) {
        leg.valid = false;
        leg.invalid.push(`${stats.lateFailures} records answered 202 whose delivery then failed`);
      }
    }
    return legs;
  } finally {
    await Promise.all([ctx.stop(ack.proc), ctx.stop(enqueue.proc)]);
  }
}
