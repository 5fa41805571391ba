/** Leg b: the gateway's batch events/s against a bare librdkafka producer of the same records. */
import { ensureTopics } from '../../lib/kafka/topics.ts';
import type { Isolated } from '../../support/isolation.ts';
import { waitFor } from '../../support/wait-for.ts';
import type { LegResult } from '../bench-result.ts';
import type { BenchContext } from '../context.ts';
import { runLoad } from '../load.ts';
import { combineRounds, cpuWindow, mean, meanCores, measureWindow, noteRounds, pool, type Window } from '../measure.ts';
import { round } from '../stats.ts';

export async function legB(ctx: BenchContext, iso: Isolated): Promise<LegResult[]> {
  const requests = pool(ctx, ctx.settings.batch, 40);
  const prefix = `${iso.id}.bare.`;
  const topics = [`${prefix}orders`, `${prefix}page_views`];
  await ensureTopics({ brokers: iso.env.KAFKA_BROKERS!.split(','), topics, partitions: 6 });
  ctx.topics.push(...topics);

  /** One run of the bare producer: its own warm-up, then `durationS` measured. */
  const bareRun = async (warmupS: number, durationS: number) => {
    const p = ctx.spawn('bare-producer', 'bench/servers/bare-producer.ts', {
      KAFKA_BROKERS: iso.env.KAFKA_BROKERS!,
      TOPIC_PREFIX: prefix,
      BATCH: String(ctx.settings.batch),
      ORDERS_RATIO: String(ctx.settings.ordersRatio),
      KEYS: String(ctx.settings.keys),
      WARMUP_S: String(warmupS),
      DURATION_S: String(durationS),
    });
    // It prints "measuring" when its warm-up ends; the CPU window starts there.
    await waitFor(async () => p.output().includes('measuring') || p.child.exitCode !== null, {
      timeoutMs: 120_000,
      intervalMs: 50,
      what: 'bare producer warm-up',
    });
    const c0 = ctx.sampler.sample();
    // And "measured" when it ends, before flushing and exiting: sample while it is still alive.
    await waitFor(async () => p.output().includes('measured') || p.child.exitCode !== null, {
      timeoutMs: 120_000,
      intervalMs: 50,
      what: 'bare producer measurement',
    });
    const c1 = ctx.sampler.sample();
    await p.exited;
    await ctx.stop(p);
    const line = p.output().trim().split('\n').filter((l) => l.startsWith('{')).pop();
    if (!line) throw new Error(`bare producer printed no result:\n${p.output()}`);
    const res = JSON.parse(line) as { recordsPerS: number; failed: number; queueFull: number; recordBytes: number; cores: number };
    const cpuCores = cpuWindow(c0, c1);
    // It may exit before the last /proc sample; its own process.cpuUsage() (all threads) is exact.
    cpuCores['bare-producer'] = round(res.cores);
    cpuCores.other = round(Math.max(0, (cpuCores.other ?? 0) - res.cores));
    return { res, cpuCores };
  };

  // Alternating rounds (gateway, bare, bare, gateway, ...), as for a and c: both sides see the
  // same drift of the machine. The gateway stays up; the bare producer is one process per round.
  const gw = await ctx.server('gateway-b', 'gateway/main.ts', ctx.gatewayEnv(iso), '/readyz');
  const gatewayTitle = `gateway: batch POST of ${ctx.settings.batch} events`;
  const roundS = ctx.settings.measureS / ctx.settings.rounds;
  const gwRounds: Window[] = [];
  const bareRounds: Awaited<ReturnType<typeof bareRun>>[] = [];
  try {
    ctx.log(`b-gateway: ${gatewayTitle}: warm-up ${ctx.settings.warmupS} s`);
    await runLoad({
      url: gw.url,
      connections: ctx.settings.connections,
      rate: ctx.settings.offeredBatch,
      durationS: ctx.settings.warmupS,
      phases: ctx.settings.phases,
      requests,
    });
    ctx.log(`b-gateway / b-bare: ${ctx.settings.rounds} rounds of ${round(roundS)} s each, alternating`);
    for (let i = 0; i < ctx.settings.rounds; i++) {
      for (const side of i % 2 === 0 ? ['gateway', 'bare'] : ['bare', 'gateway']) {
        if (side === 'bare') bareRounds.push(await bareRun(i === 0 ? ctx.settings.warmupS : 1, roundS));
        else {gwRounds.push(
            await measureWindow(ctx, `b-gateway round ${i + 1}`, gatewayTitle, gw.url, requests, ctx.settings.batch, ctx.settings.offeredBatch, roundS),
          );}
      }
    }
  } finally {
    await ctx.stop(gw.proc);
  }
  const gateway = combineRounds('b-gateway', gwRounds, 'b-bare', roundS);
  const failed = bareRounds.reduce((a, r) => a + r.res.failed, 0);
  const rate = mean(bareRounds.map((r) => r.res.recordsPerS));
  const cores = mean(bareRounds.map((r) => r.res.cores));
  ctx.log(`b-bare: ${round(rate)} records/s at ${round(cores)} cores, ${round(bareRounds[0]!.res.recordBytes)} bytes per record`);
  const producer: LegResult = {
    id: 'b-bare',
    title: 'bare librdkafka producer: pre-encoded records, same settings and in-flight bound',
    kind: 'producer',
    unit: 'events/s',
    value: rate,
    eventsPerS: rate,
    valid: failed === 0,
    invalid: failed ? [`${failed} records failed`] : [],
    notes: [
      `${round(bareRounds[0]!.res.recordBytes)} bytes per record on average; librdkafka queue full ${
        bareRounds.reduce((a, r) => a + r.res.queueFull, 0)
      } times; the producer process used ${round(cores)} cores (librdkafka threads included).`,
      `Mean of ${bareRounds.length} runs of ${round(roundS)} s alternated with b-gateway: ${
        bareRounds.map((r) => round(r.res.recordsPerS)).join(', ')
      } records/s.`,
    ],
    durationS: ctx.settings.measureS,
    cpuCores: meanCores(bareRounds.map((r) => r.cpuCores)),
    throughputSeries: [],
  };
  noteRounds(ctx, gateway, producer, gwRounds.map((w, i) => w.leg.value / bareRounds[i]!.res.recordsPerS));
  return [gateway, producer];
}
