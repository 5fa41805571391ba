/**
 * Leg g: Ferry's gateway against a peer, @platformatic/kafka-hooks (`POST /topics/:topic`), on the
 * same Kafka in the same run: single events, and Ferry's batches against the peer's single
 * messages (it has no batch publish). The three sides alternate rounds with the settings of legs a
 * and b; the records in both sides' topics are counted afterwards against their 202s.
 */
import { ensureTopics, readReplication } from '../../lib/kafka/topics.ts';
import { loadRegistry } from '../../schemas/registry.ts';
import type { Isolated } from '../../support/isolation.ts';
import type { LegResult } from '../bench-result.ts';
import type { BenchContext } from '../context.ts';
import type { LoadResult } from '../load.ts';
import { alternatingWindows, combineRounds, type HttpSide, noteRounds, pool, type Window } from '../measure.ts';
import { PEER_VERSIONS, type PeerInstall } from '../peer-install.ts';
import { toPeerRequest } from '../peer-requests.ts';

/** 202 answers of a warm-up and of the measured windows of one side. */
function accepted(warmup: LoadResult, windows: Window[]): number {
  return (warmup.statusCounts['202'] ?? 0) + windows.reduce((a, w) => a + (w.leg.statusCounts?.['202'] ?? 0), 0);
}

/** Invalidates `leg` when fewer records reached Kafka than were answered 202, and notes both counts. */
function checkLanded(leg: LegResult, what: string, landed: number, acknowledged: number): void {
  leg.notes.push(
    `${what}: ${landed} records reached Kafka during the leg (warm-up included) for ${acknowledged} acknowledged by a 202; the surplus are requests whose answer came after a run's end.`,
  );
  if (landed < acknowledged) {
    leg.valid = false;
    leg.invalid.push(`${acknowledged - landed} records answered 202 are not in Kafka`);
  }
}

export async function legG(ctx: BenchContext, iso: Isolated, peer: Extract<PeerInstall, { available: true }>): Promise<LegResult[]> {
  const brokers = iso.env.KAFKA_BROKERS!.split(',');
  const keyFields = new Map([...loadRegistry().topics].map(([topic, s]) => [topic, s.key]));
  const prefix = `${iso.id}.peer.`;
  const peerTopics = [...keyFields.keys()].map((t) => `${prefix}${t}`);
  const idleTopic = `${prefix}idle`;
  // The same partitions and replication as Ferry's topics (support/isolation.ts).
  const replication = readReplication(iso.env, brokers);
  await ensureTopics({ brokers, topics: [...peerTopics, idleTopic], partitions: 6, ...replication });
  ctx.topics.push(...peerTopics, idleTopic);
  const ferryTopics = [...keyFields.keys()].map((t) => iso.topic(t));
  const group = `${iso.id}.peer`;

  const single = pool(ctx, 1, 500);
  const batch = pool(ctx, ctx.settings.batch, 40);
  const gw = await ctx.server('gateway-g', 'gateway/main.ts', ctx.gatewayEnv(iso), '/readyz');
  const hooks = await ctx.server(
    'peer-kafka-hooks',
    'bench/servers/peer-kafka-hooks.ts',
    { PEER_DIR: peer.dir, KAFKA_BROKERS: brokers.join(','), PEER_TOPICS: peerTopics.join(','), PEER_IDLE_TOPIC: idleTopic, PEER_GROUP: group },
    '/',
    peer.node,
  ).catch(async (err: Error) => {
    await ctx.stop(gw.proc);
    throw err;
  });
  const sides: HttpSide[] = [
    {
      id: 'g-gateway',
      title: 'gateway: single-event POST, alternated with the peer',
      url: gw.url,
      requests: single,
      eventsPerRequest: 1,
      offered: ctx.settings.offeredSingle,
    },
    {
      id: 'g-peer',
      title: `@platformatic/kafka-hooks ${PEER_VERSIONS.kafkaHooks}: POST /topics/:topic with the same JSON event`,
      url: hooks.url,
      requests: single.map((r) => toPeerRequest(r, prefix, keyFields)),
      eventsPerRequest: 1,
      offered: ctx.settings.offeredSingle,
    },
    {
      id: 'g-gateway-batch',
      title: `gateway: batch POST of ${ctx.settings.batch} events, alternated with the peer`,
      url: gw.url,
      requests: batch,
      eventsPerRequest: ctx.settings.batch,
      offered: ctx.settings.offeredBatch,
    },
  ];
  const [ferryBefore, peerBefore] = await Promise.all([ctx.kafka.endOffsets(ferryTopics), ctx.kafka.endOffsets(peerTopics)]);
  // Both stop before the count: their last records are then delivered or failed.
  const { warmups, windows } = await alternatingWindows(ctx, sides).finally(() => Promise.all([ctx.stop(gw.proc), ctx.stop(hooks.proc)]));
  const [ferryAfter, peerAfter] = await Promise.all([ctx.kafka.endOffsets(ferryTopics), ctx.kafka.endOffsets(peerTopics)]);
  await ctx.kafka.deleteGroups([group]).catch((err: Error) => ctx.log(`deleting the peer's consumer group: ${err.message}`));

  const roundS = ctx.settings.measureS / ctx.settings.rounds;
  const [gwWindows, peerWindows, batchWindows] = windows as [Window[], Window[], Window[]];
  const gateway = combineRounds('g-gateway', gwWindows, 'g-peer', roundS);
  const peerLeg = combineRounds('g-peer', peerWindows, 'g-gateway', roundS);
  const gatewayBatch = combineRounds('g-gateway-batch', batchWindows, 'g-peer', roundS);
  // One gateway served both of its sides: its histograms mix single events and batches.
  delete gateway.metrics;
  delete gatewayBatch.metrics;
  noteRounds(ctx, gateway, peerLeg, gwWindows.map((w, i) => w.leg.value / peerWindows[i]!.leg.value));
  noteRounds(ctx, gatewayBatch, peerLeg, batchWindows.map((w, i) => w.leg.value / peerWindows[i]!.leg.value));

  const ferryAcknowledged = accepted(warmups[0]!, gwWindows) + accepted(warmups[2]!, batchWindows) * ctx.settings.batch;
  checkLanded(gateway, "Ferry's topics (single events and batches)", ferryAfter - ferryBefore, ferryAcknowledged);
  checkLanded(peerLeg, "The peer's topics", peerAfter - peerBefore, accepted(warmups[1]!, peerWindows));
  if (!gateway.valid) gatewayBatch.invalid.push(...gateway.invalid.filter((x) => !gatewayBatch.invalid.includes(x)));
  gatewayBatch.valid = gatewayBatch.invalid.length === 0;

  const rf = replication.replicationFactor;
  peerLeg.notes.push(
    `kafka-hooks ${PEER_VERSIONS.kafkaHooks} under Node ${peer.nodeVersion}, started as its own service (create, init, start; no Watt runtime) in one process and thread, with the V8 flags of Ferry's processes; its webhook consumer reads an idle topic instead of the published ones (bench/servers/peer-kafka-hooks.ts).`,
    `What differs from Ferry: kafka-hooks sends each request as its own produce request with @platformatic/kafka's defaults, which it does not let one configure: acks=1 (leader only), no idempotence, no compression, no linger. Ferry produces with acks=all, idempotence, lz4 and linger 1 ms. Both topics have ${rf} replica${
      rf === 1 ? ': acks=all and acks=1 then wait for the same single write' : 's'
    }.`,
    'kafka-hooks takes the body as bytes: no JSON parse, validation, Avro, event id, tenant or metrics; the key comes from the x-plt-kafka-hooks-key header (here the event key Ferry uses), and every request header is copied into the record.',
    "kafka-hooks' Kafka client keeps at most 5 requests in flight per broker connection (@platformatic/kafka's maxInflights, not exposed by kafka-hooks either) and each request carries one record, so against one broker at most 5 records are on their way at once and its rate follows the broker's round trip.",
    'kafka-hooks has no batch publish: a JSON array would be one record. Ratio 5 (batch) compares the gateway batch events/s with this leg, one event per request.',
  );
  return [gateway, peerLeg, gatewayBatch];
}
