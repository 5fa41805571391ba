/**
 * The gateway accepts exactly what every sink can store: events generated from the schemas and
 * their limits (hostile Unicode, boundary timestamps, integers and lengths) are answered 2xx and
 * land in PostgreSQL, the Redis cache and ClickHouse as sent, with no dead letter; near-misses
 * are answered 422 naming the field, and reach no Kafka topic.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { chString } from '../lib/clickhouse.ts';
import { orderKey } from '../lib/order-cache.ts';
import { DeadLetters } from '../lib/queues/dead-letters.ts';
import { deadLetterQueueName } from '../lib/queues/names.ts';
import { connectQueueRedis } from '../lib/queues/redis.ts';
import { codePointLength } from '../schemas/limits.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { toAvro } from '../schemas/validate.ts';
import { eventArbitrary, nearMissArbitrary } from './event-arbitraries.ts';
import { isolate, type Isolated, postJson, type Proc, startGateway, startWorker, waitFor } from './helpers.ts';
import { readTopic } from './kafka-reader.ts';

const registry = loadRegistry();
const ordersSchema = registry.topics.get('orders')!.latest.schema;
const viewsSchema = registry.topics.get('page_views')!.latest.schema;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Json = Record<string, unknown>;
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** The value the pipeline should hold for `event` (toAvro's), without the server's received_at. */
function expected(schema: typeof ordersSchema, event: Json, eventId: string): Json {
  const r = toAvro(schema, event, { event_id: eventId, received_at: 0 });
  assert.ok(r.ok, JSON.stringify(r));
  const { received_at: _r, ...rest } = r.value;
  return JSON.parse(JSON.stringify(rest)) as Json;
}

/** The first `max` code points of `s`, then `tag`, within the field's 128 code points. */
const tagged = (s: string, tag: string) => [...s].slice(0, 128 - codePointLength(tag)).join('') + tag;

test('every event the schema allows is accepted and lands in PostgreSQL, Redis and ClickHouse as sent, with no dead letter', async () => {
  const iso: Isolated = await isolate();
  cleanups.push(() => iso.cleanup());
  const gateway = await startGateway(iso.env);
  const worker: Proc = startWorker(iso.env);
  cleanups.push(() => Promise.all([gateway.proc.stop(), worker.stop()]));
  const queueRedis = connectQueueRedis(iso.env.QUEUE_REDIS_URL!);
  const deadLetters = new DeadLetters(queueRedis, deadLetterQueueName(iso.env.FERRY_TOPIC_PREFIX!));
  cleanups.push(async () => {
    await deadLetters.close();
    queueRedis.disconnect();
  });
  const prefix = `ferry:${iso.id}:`;
  const viewCounts = new Map<string, number>();
  let run = 0;

  await fc.assert(
    fc.asyncProperty(
      fc.array(eventArbitrary(ordersSchema), { minLength: 1, maxLength: 3 }),
      fc.array(eventArbitrary(viewsSchema), { minLength: 1, maxLength: 2 }),
      async (orderEvents, viewEvents) => {
        run++;
        // Order ids unique per event, so each one is the current version of its order.
        const orders: Json[] = orderEvents.map((e, i) => ({ ...e, order_id: tagged(String(e.order_id), `~${run}.${i}`) }));
        // Client event ids must be unique too (fast-check repeats values).
        for (const e of [...orders, ...viewEvents]) delete e.event_id;
        const [o, v] = await Promise.all([postJson(`${gateway.url}/v1/events/orders`, orders), postJson(`${gateway.url}/v1/events/page_views`, viewEvents)]);
        assert.equal(o.status, 202, JSON.stringify(o.json));
        assert.equal(v.status, 202, JSON.stringify(v.json));
        const orderIds = (o.json.results as { event_id: string }[]).map((r) => r.event_id);
        const viewIds = (v.json.results as { event_id: string }[]).map((r) => r.event_id);
        const allIds = [...orderIds, ...viewIds];
        assert.ok(allIds.every((id) => UUID.test(id)));
        for (const e of viewEvents) viewCounts.set(String(e.url), (viewCounts.get(String(e.url)) ?? 0) + 1);

        const keys = orders.map((e) => orderKey(prefix, 'default', String(e.order_id)));
        const idList = allIds.map(chString).join(',');
        const landed = await waitFor(async () => {
          const rows = await iso.sql<
            {
              order_id: string;
              customer_id: string;
              status: string;
              amount_cents: string;
              currency: string;
              items: unknown;
              occurred_ms: string;
              event_id: string;
            }[]
          >`
            SELECT order_id, customer_id, status, amount_cents::text, currency, items, (extract(epoch FROM occurred_at) * 1000)::bigint::text AS occurred_ms, event_id::text
            FROM orders WHERE tenant = 'default' AND order_id = ANY(${orders.map((e) => String(e.order_id))})`;
          if (rows.length < orders.length) return undefined;
          const docs = await Promise.all(keys.map((k) => iso.redis.hget(k, 'doc')));
          if (docs.some((d) => d === null)) return undefined;
          const rs = await iso.clickhouse.query({
            query: `SELECT event_id, topic, key, occurred_at_ms, payload FROM events FINAL WHERE event_id IN (${idList})`,
            format: 'JSONEachRow',
          });
          const ch = await rs.json<{ event_id: string; topic: string; key: string; occurred_at_ms: string; payload: string }>();
          if (ch.length < allIds.length) return undefined;
          const counts = await iso.redis.hgetall(`${prefix}page_views:default:by_url`);
          if (![...viewCounts].every(([url, n]) => Number(counts[url]) === n)) return undefined;
          return { rows, docs: docs as string[], ch };
        }, { what: `run ${run}: every event in PostgreSQL, Redis and ClickHouse`, timeoutMs: 30_000, intervalMs: 100 });

        const history = await iso.sql`SELECT event_id::text FROM order_history WHERE event_id = ANY(${orderIds}::uuid[])`;
        assert.equal(history.length, orders.length, 'every order event once in order_history');
        const byOrder = new Map(landed.rows.map((r) => [r.order_id, r]));
        const byEvent = new Map(landed.ch.map((r) => [r.event_id, r]));
        orders.forEach((e, i) => {
          const want = expected(ordersSchema, e, orderIds[i]!);
          const row = byOrder.get(String(e.order_id));
          assert.ok(row, `order ${JSON.stringify(e.order_id)} in PostgreSQL`);
          assert.deepEqual(
            { ...row, amount_cents: Number(row.amount_cents), occurred_ms: Number(row.occurred_ms) },
            {
              order_id: want.order_id,
              customer_id: want.customer_id,
              status: want.status,
              amount_cents: want.amount_cents,
              currency: want.currency,
              items: want.items,
              occurred_ms: want.occurred_at,
              event_id: orderIds[i],
            },
          );
          const doc = JSON.parse(landed.docs[i]!) as Json;
          assert.deepEqual(
            {
              order_id: doc.order_id,
              customer_id: doc.customer_id,
              amount_cents: doc.amount_cents,
              items: doc.items,
              occurred_at: doc.occurred_at,
              event_id: doc.event_id,
            },
            {
              order_id: want.order_id,
              customer_id: want.customer_id,
              amount_cents: want.amount_cents,
              items: want.items,
              occurred_at: new Date(want.occurred_at as number).toISOString(),
              event_id: orderIds[i],
            },
          );
        });
        for (
          const [topic, events, ids, schema, key] of [['orders', orders, orderIds, ordersSchema, 'order_id'], [
            'page_views',
            viewEvents,
            viewIds,
            viewsSchema,
            'user_id',
          ]] as const
        ) {
          events.forEach((e, i) => {
            const want = expected(schema, e, ids[i]!);
            const row = byEvent.get(ids[i]!);
            assert.ok(row, `${topic} event ${ids[i]} in ClickHouse`);
            const { received_at: _r, ...payload } = JSON.parse(row.payload) as Json;
            assert.deepEqual({ topic: row.topic, key: row.key, occurred_at_ms: Number(row.occurred_at_ms), payload }, {
              topic,
              key: want[key],
              occurred_at_ms: want.occurred_at,
              payload: want,
            });
          });
        }
        assert.equal((await deadLetters.list()).length, 0, 'no dead letters');
      },
    ),
    { numRuns: 40, endOnFailure: true },
  );
  // Late failures (a sink refusing after retries) would show up here.
  assert.equal((await deadLetters.list()).length, 0, 'no dead letters');
});

test('near-misses are answered 422 naming the field and reason, and nothing reaches Kafka', async () => {
  const iso: Isolated = await isolate();
  cleanups.push(() => iso.cleanup());
  const gateway = await startGateway(iso.env);
  cleanups.push(() => gateway.proc.stop());

  const misses = fc.oneof(
    nearMissArbitrary(ordersSchema).map((m) => ({ ...m, topic: 'orders' })),
    nearMissArbitrary(viewsSchema).map((m) => ({ ...m, topic: 'page_views' })),
  );
  await fc.assert(
    fc.asyncProperty(misses, async (m) => {
      const res = await postJson(`${gateway.url}/v1/events/${m.topic}`, m.event);
      assert.equal(res.status, 422, `${m.what} at ${m.field}: ${JSON.stringify(res.json)}`);
      const errors = res.json.errors as { field: string; reason: string }[];
      assert.deepEqual(errors.map((e) => e.field), [m.field], m.what);
      assert.match(errors[0]!.reason, m.reason, m.what);
    }),
    { numRuns: 60 },
  );

  // Markers, acknowledged by Kafka after every near-miss: a consumer that reads them has read
  // whatever came before.
  const order = { order_id: 'marker', customer_id: 'c', status: 'paid', amount_cents: 1, currency: 'EUR', occurred_at: '2026-11-23T10:00:00Z' };
  const view = { user_id: 'marker', url: 'https://shop.example/', occurred_at: '2026-11-23T10:00:00Z' };
  assert.equal((await postJson(`${gateway.url}/v1/events/orders`, order)).status, 202);
  assert.equal((await postJson(`${gateway.url}/v1/events/page_views`, view)).status, 202);
  const brokers = iso.env.KAFKA_BROKERS!;
  const [orders, views] = await Promise.all([readTopic(brokers, iso.topic('orders'), 2, 10_000), readTopic(brokers, iso.topic('page_views'), 2, 10_000)]);
  assert.deepEqual(orders.map((r) => r.key), ['marker']);
  assert.deepEqual(views.map((r) => r.key), ['marker']);
});
