/**
 * Tracing through the real pipeline: a client's traceparent goes through the gateway, Kafka and
 * the worker into the sink writes, whose spans reach a tiny OTLP/HTTP (JSON) receiver in this
 * test under the client's trace id. Without the OTEL variables nothing is exported and nothing
 * about tracing is logged, while the traceparent still travels.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { KafkaProducer } from '../lib/kafka/producer.ts';
import { DeadLetters } from '../lib/queues/dead-letters.ts';
import { connectQueueRedis } from '../lib/queues/redis.ts';
import { parseTraceparent } from '../lib/tracing.ts';
import { isolate, type Isolated, onMinute, orderEvent, postJson, type Proc, startGateway, startWorker, waitFor } from './helpers.ts';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  links?: { traceId: string; spanId: string }[];
}
interface ReceivedSpan extends OtlpSpan {
  service: string;
}

let iso: Isolated;
let receiver: Server;
let endpoint: string;
const spans: ReceivedSpan[] = [];
let posts = 0;
const running: Proc[] = [];

before(async () => {
  iso = await isolate();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts++;
      assert.equal(req.url, '/v1/traces');
      assert.match(req.headers['content-type'] ?? '', /application\/json/);
      const body = JSON.parse(Buffer.concat(chunks).toString()) as {
        resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
      };
      for (const rs of body.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
        for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ ...s, service });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
});

after(async () => {
  await Promise.all(running.map((p) => p.stop()));
  receiver?.close();
  await iso?.cleanup();
});

const newTrace = () => ({ traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex') });

test('the worker’s sink spans continue the client’s trace, through the gateway’s request span', async () => {
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_SCHEDULE_DELAY: '100' };
  const gateway = await startGateway({ ...iso.env, ...otel });
  const worker = startWorker({ ...iso.env, ...otel, OTEL_SERVICE_NAME: 'ferry-worker-test' });
  running.push(gateway.proc, worker);

  const client = newTrace();
  const order = await postJson(`${gateway.url}/v1/events/orders`, orderEvent('traced-1', 'created', onMinute(0)), {
    traceparent: `00-${client.traceId}-${client.spanId}-01`,
  });
  assert.equal(order.status, 202, order.text);
  const answered = parseTraceparent(order.headers.get('traceparent'));
  assert.equal(answered?.traceId, client.traceId);
  assert.notEqual(answered?.spanId, client.spanId);

  const view = await postJson(`${gateway.url}/v1/events/page_views`, [{ user_id: 'u-1', url: 'https://shop.example/', occurred_at: onMinute(0) }], {
    traceparent: `00-${client.traceId}-${client.spanId}-01`,
  });
  assert.equal(view.status, 202, view.text);
  const viewSpan = parseTraceparent(view.headers.get('traceparent'))!.spanId;

  // A ClickHouse insert that carries both requests' events is a new root linked to each of them.
  const inTrace = () => spans.filter((s) => s.traceId === client.traceId || (s.links ?? []).some((l) => l.traceId === client.traceId));
  const want = ['postgres ferry_apply_orders', 'redis refresh orders', 'redis count page views', 'clickhouse insert events'];
  await waitFor(async () => want.every((name) => inTrace().some((s) => s.name === name)), {
    what: "sink spans in the client's trace",
    timeoutMs: 60_000,
  }).catch((err) => {
    throw new Error(`${(err as Error).message}\n${JSON.stringify(spans.map((s) => [s.service, s.name, s.traceId]))}\n${worker.output()}`);
  });

  const requestSpans = inTrace().filter((s) => s.service === 'ferry-gateway');
  assert.deepEqual(requestSpans.map((s) => [s.name, s.parentSpanId]).sort(), [
    ['POST /v1/events/{topic}', client.spanId],
    ['POST /v1/events/{topic}', client.spanId],
  ]);
  assert.ok(requestSpans.some((s) => s.spanId === answered!.spanId), 'the answer names the request span');
  for (const name of want) {
    const sink = inTrace().find((s) => s.name === name)!;
    assert.equal(sink.service, 'ferry-worker-test', 'OTEL_SERVICE_NAME names the worker');
    // Each record carried its request span's context; a sink call whose events share it is its child.
    // ClickHouse may get both requests' events in one insert: then it links to both.
    const parents = name === 'redis count page views' ? [viewSpan] : name.startsWith('clickhouse') ? [answered!.spanId, viewSpan] : [answered!.spanId];
    const linked = name.startsWith('clickhouse') && (sink.links ?? []).some((l) => parents.includes(l.spanId));
    assert.ok(parents.includes(sink.parentSpanId ?? '') || linked, `${name} continues the request span: ${JSON.stringify(sink)}`);
  }
  assert.equal(spans.filter((s) => s.name.startsWith('POST') && s.traceId !== client.traceId).length, 0, 'no other requests were made');
  assert.doesNotMatch(gateway.proc.output() + worker.output(), /"level":(50|60)/, 'no error logged');
  assert.deepEqual(await Promise.all([gateway.proc.stop(), worker.stop()]), [0, 0]);
});

test('without OTEL variables nothing is exported or logged about tracing, and the traceparent still reaches the worker', async () => {
  const off = { OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '', OTEL_TRACES_EXPORTER: '', OTEL_SERVICE_NAME: 'ferry-untraced' };
  const gateway = await startGateway({ ...iso.env, ...off, LOG_LEVEL: 'debug' });
  const worker = startWorker({ ...iso.env, ...off });
  running.push(gateway.proc, worker);
  const before = posts;

  const client = newTrace();
  const traceparent = `00-${client.traceId}-${client.spanId}-01`;
  const order = await postJson(`${gateway.url}/v1/events/orders`, orderEvent('untraced-1', 'created', onMinute(0)), { traceparent });
  assert.equal(order.status, 202, order.text);
  assert.equal(parseTraceparent(order.headers.get('traceparent'))?.traceId, client.traceId);

  // A record the worker cannot decode is dead-lettered with its headers, and logged with its trace id.
  const poison = newTrace();
  const producer = new KafkaProducer({ brokers: [iso.env.KAFKA_BROKERS!] });
  await producer.connect();
  const [d] = await producer.send([{
    topic: iso.topic('orders'),
    key: 'traced-poison',
    value: Buffer.from('not avro'),
    headers: { traceparent: `00-${poison.traceId}-${poison.spanId}-01` },
  }]);
  await producer.close();
  assert.ok(d?.ok);
  const queueRedis = connectQueueRedis(iso.env.QUEUE_REDIS_URL!);
  const deadLetters = new DeadLetters(queueRedis, `${iso.env.FERRY_TOPIC_PREFIX}ferry-dead-letters`);
  try {
    await waitFor(async () => (await deadLetters.list({ key: 'traced-poison' })).length === 1, { what: 'the poison record dead-lettered', timeoutMs: 60_000 });
    const [letter] = await deadLetters.list({ key: 'traced-poison' });
    assert.equal(letter!.data.headers?.traceparent, `00-${poison.traceId}-${poison.spanId}-01`, 'a replay would continue the trace');
  } finally {
    await deadLetters.close();
    queueRedis.disconnect();
  }
  await waitFor(async () => (await iso.sql`select 1 from orders where order_id = 'untraced-1'`).length === 1, { what: 'the order applied', timeoutMs: 60_000 });
  await waitFor(async () => worker.output().includes(`"trace_id":"${poison.traceId}"`), { what: 'the poison line with its trace id', timeoutMs: 10_000 });
  assert.match(gateway.proc.output(), new RegExp(`"trace_id":"${client.traceId}".*"msg":"events request"`));

  await new Promise((r) => setTimeout(r, 500));
  assert.equal(posts, before, 'nothing was exported');
  const output = gateway.proc.output() + worker.output();
  assert.doesNotMatch(output, /tracing|otel/i);
  assert.doesNotMatch(output, /"level":(50|60)/, 'no error logged');
  assert.deepEqual(await Promise.all([gateway.proc.stop(), worker.stop()]), [0, 0]);
});
