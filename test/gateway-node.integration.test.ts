/**
 * The Node gateway process itself, against the real Kafka: HTTPS, the production start-up
 * rule, host-wide /metrics across processes, HTTP framing limits, backpressure (503) and
 * partial failure (207), and Java-compatible key -> partition mapping (murmur2).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { KafkaJS as KafkaJSTypes } from '@confluentinc/kafka-javascript';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { freePort, isolate, type Isolated, orderEvent, postJson, selfSignedCert, startGateway, startProcess, waitFor } from './helpers.ts';
import { readTopic } from './kafka-reader.ts';

const require = createRequire(import.meta.url);
const { KafkaJS } = require('@confluentinc/kafka-javascript') as { KafkaJS: typeof KafkaJSTypes };
const codec = new Codec(loadRegistry());

let iso: Isolated;
let admin: KafkaJSTypes.Admin;
const stops: (() => Promise<number | null>)[] = [];

before(async () => {
  iso = await isolate();
  admin = new KafkaJS.Kafka({ kafkaJS: { brokers: iso.env.KAFKA_BROKERS!.split(','), logLevel: KafkaJS.logLevel.ERROR } }).admin();
  await admin.connect();
});

after(async () => {
  await admin?.disconnect();
  const codes = await Promise.all(stops.map((stop) => stop()));
  await iso?.cleanup();
  assert.ok(codes.every((c) => c === 0), `every gateway exits 0 on SIGTERM: ${JSON.stringify(codes)}`);
});

async function gateway(env: Record<string, string> = {}) {
  const g = await startGateway({ ...iso.env, ...env });
  stops.push(() => g.proc.stop());
  return g;
}

async function count(logical: string): Promise<number> {
  return (await admin.fetchTopicOffsets(iso.topic(logical))).reduce((n, p) => n + Number(p.high), 0);
}

const view = (user: string) => ({ user_id: user, url: 'https://shop.example/', occurred_at: '2026-11-23T10:00:00Z' });

describe('HTTPS', () => {
  test('serves HTTPS when TLS_CERT_FILE and TLS_KEY_FILE are set, and not plain HTTP on that port', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-tls-'));
    try {
      const { cert, key } = selfSignedCert(dir);
      const ca = readFileSync(cert);
      const port = await freePort();
      const proc = startProcess('gateway/main.ts', {
        ...iso.env,
        GATEWAY_PROCESSES: '1',
        PORT: String(port),
        HOST: '127.0.0.1',
        TLS_CERT_FILE: cert,
        TLS_KEY_FILE: key,
      });
      stops.push(() => proc.stop());

      const https = (method: string, path: string, body?: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = httpsRequest({ host: '127.0.0.1', port, path, method, ca, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
            let text = '';
            res.on('data', (b: Buffer) => (text += b.toString()));
            res.on('end', () => resolve({ status: res.statusCode!, body: text }));
          });
          req.on('error', reject);
          req.end(body);
        });
      await waitFor(async () => (await https('GET', '/readyz')).status === 200, { what: `HTTPS gateway ready\n${proc.output()}`, timeoutMs: 60_000 });

      const before = await count('page_views');
      const res = await https('POST', '/v1/events/page_views', JSON.stringify(view('tls-1')));
      assert.equal(res.status, 202, res.body);
      assert.equal(await count('page_views'), before + 1);

      const plain = await new Promise<string>((resolve) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/healthz' }, (r) => resolve(`status ${r.statusCode}`));
        req.on('error', (err) => resolve(`error ${err.message}`));
        req.end();
      });
      assert.doesNotMatch(plain, /status 200/, 'plain HTTP is not served');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('start-up', () => {
  test('NODE_ENV=production without FERRY_API_KEYS or FERRY_JWT_SECRET: one line on stderr, exit 2', async () => {
    const proc = startProcess('gateway/main.ts', { ...iso.env, NODE_ENV: 'production', PORT: String(await freePort()) });
    const code = await new Promise<number | null>((resolve) => proc.child.on('exit', resolve));
    assert.equal(code, 2);
    const lines = proc.output().trim().split('\n');
    assert.equal(lines.length, 1, proc.output());
    assert.match(lines[0]!, /^ferry: invalid configuration: FERRY_API_KEYS: NODE_ENV=production and neither FERRY_API_KEYS nor FERRY_JWT_SECRET is set/);
  });

  test('without credentials outside production it starts with a loud warning', async () => {
    const g = await gateway();
    assert.match(g.proc.output(), /AUTHENTICATION IS OFF/);
  });
});

describe('GET /metrics', () => {
  test('one scrape sums every gateway process of the host: requests by route and status, produce latency, in-flight gauges', async () => {
    const TOKEN = 'metrics-token-0123456789';
    const g = await gateway({ GATEWAY_PROCESSES: '2', METRICS_TOKEN: TOKEN });
    const port = Number(new URL(g.url).port);
    // The gateway is ready when one process answers; wait until both are in the host-wide sum,
    // or every request could land on the first.
    await waitFor(async () => {
      const text = await (await fetch(`${g.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
      return text.includes(`ferry_gateway_producer_max_in_flight ${2 * 50_000}`);
    }, { timeoutMs: 30_000, what: 'both gateway processes in the metrics' });
    // A new connection per request, so the primary spreads them over both processes.
    const post = (body: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest({
          host: '127.0.0.1',
          port,
          path: '/v1/events/page_views',
          method: 'POST',
          agent: false,
          headers: { 'content-type': 'application/json' },
        }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.end(body);
      });
    const statuses = [];
    for (let i = 0; i < 20; i++) statuses.push(await post(JSON.stringify(i % 5 === 0 ? { user_id: '' } : view(`m-${i}`))));
    assert.deepEqual(statuses.filter((s) => s === 202).length, 16);

    assert.equal((await fetch(`${g.url}/metrics`)).status, 401);
    // Each scrape lands on either process; every one shows the host-wide sums.
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${g.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(res.status, 200);
      assert.match(String(res.headers.get('content-type')), /^text\/plain/);
      const text = await res.text();
      const value = (line: string) => Number(text.split('\n').find((l) => l.startsWith(line))?.slice(line.length).trim());
      assert.equal(value('ferry_gateway_http_requests_total{method="POST",route="/v1/events/:topic",status="202"}'), 16, text);
      assert.equal(value('ferry_gateway_http_requests_total{method="POST",route="/v1/events/:topic",status="422"}'), 4);
      assert.equal(value('ferry_gateway_produce_duration_seconds_count{outcome="ok"}'), 16);
      assert.equal(value('ferry_gateway_produced_records_total{outcome="accepted",code=""}'), 16);
      assert.equal(value('ferry_gateway_producer_in_flight'), 0);
      assert.equal(value('ferry_gateway_producer_max_in_flight'), 2 * 50_000, 'the bound of both processes');
    }
  });
});

describe('GET /metrics in production', () => {
  test('refused without METRICS_TOKEN (the scrape is host-wide IPC, not for anyone who asks); with it, served to the token only', async () => {
    const key = 'fry_metrics-test-key-0123456789';
    const sha256 = createHash('sha256').update(key).digest('hex');
    const production = { NODE_ENV: 'production', FERRY_API_KEYS: JSON.stringify([{ id: 'm', tenant: 'acme', sha256, scopes: ['write:page_views'] }]) };
    const off = await gateway(production);
    for (const headers of [{}, { 'x-api-key': key }, { authorization: 'Bearer anything' }] as Record<string, string>[]) {
      const res = await fetch(`${off.url}/metrics`, { headers });
      const text = await res.text();
      assert.notEqual(res.status, 200, JSON.stringify(headers));
      assert.doesNotMatch(text, /ferry_gateway_/);
    }
    assert.match(off.proc.output(), /\/metrics is off: set METRICS_TOKEN/);

    const TOKEN = 'metrics-token-0123456789';
    const on = await gateway({ ...production, METRICS_TOKEN: TOKEN });
    assert.equal((await fetch(`${on.url}/metrics`)).status, 401);
    assert.equal((await fetch(`${on.url}/metrics`, { headers: { authorization: 'Bearer metrics-token-wrong-guess' } })).status, 401);
    const res = await fetch(`${on.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /ferry_gateway_http_requests_total/);
  });
});

describe('HTTP framing', () => {
  test("conflicting Content-Length/Transfer-Encoding is refused by Node's parser (400), oversized bodies by the gateway (413), unknown codings 501; nothing produced", async () => {
    const g = await gateway({ MAX_BODY_BYTES: '2048' });
    const port = Number(new URL(g.url).port);
    const raw = (text: string) =>
      new Promise<{ status: number; type: string; body: string }>((resolve) => {
        const s = connect(port, '127.0.0.1', () => s.write(text));
        let out = '';
        s.on('data', (b: Buffer) => (out += b.toString()));
        s.on('error', () => {});
        s.on('close', () => {
          const [head = '', body = ''] = out.split('\r\n\r\n');
          resolve({ status: Number(head.split(' ')[1]), type: /content-type: ([^\r]*)/i.exec(head)?.[1] ?? '', body });
        });
      });
    const ev = JSON.stringify(view('f-1'));
    const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
    const head = (extra: string) => `POST /v1/events/page_views HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n${extra}\r\n`;
    const big = Array.from({ length: 10 }, () => chunk(' '.repeat(300))).join('');

    const before = await count('page_views');
    const refused: [string, string, number, string][] = [
      ['Content-Length and Transfer-Encoding', head(`Content-Length: ${ev.length}\r\nTransfer-Encoding: chunked\r\n`) + chunk(ev) + '0\r\n\r\n', 400, ''],
      ['two different Content-Lengths', head(`Content-Length: ${ev.length}\r\nContent-Length: 5\r\n`) + ev, 400, ''],
      ['a malformed chunk size', head('Transfer-Encoding: chunked\r\n') + 'zz\r\nabc\r\n0\r\n\r\n', 400, ''],
      ['a chunked body over MAX_BODY_BYTES', head('Transfer-Encoding: chunked\r\n') + chunk('[') + big + '0\r\n\r\n', 413, 'application/problem+json'],
      ['a Content-Length over MAX_BODY_BYTES', head('Content-Length: 5000\r\n') + 'x'.repeat(5000), 413, 'application/problem+json'],
      ['Transfer-Encoding: gzip, chunked', head('Transfer-Encoding: gzip, chunked\r\n') + chunk(ev) + '0\r\n\r\n', 501, 'application/problem+json'],
    ];
    for (const [what, text, status, type] of refused) {
      const res = await raw(text);
      assert.equal(res.status, status, what);
      assert.equal(res.type, type, what);
    }
    assert.equal(await count('page_views'), before, 'nothing produced');

    const ok = await raw(head('Transfer-Encoding: chunked\r\n') + chunk(ev.slice(0, 10)) + chunk(ev.slice(10)) + '0\r\n\r\n');
    assert.equal(ok.status, 202, ok.body);
    assert.equal(await count('page_views'), before + 1);
  });
});

describe('backpressure', () => {
  test('207 when librdkafka fails part of a batch (queue full), 503 with Retry-After at the in-flight bound or a full queue; only accepted records are in Kafka', async () => {
    // Records wait 3 s in librdkafka (linger), its queue holds 5, the gateway admits 10 in flight.
    const g = await gateway({ KAFKA_QUEUE_MAX_MESSAGES: '5', KAFKA_MAX_IN_FLIGHT: '10', MAX_BATCH_EVENTS: '10', KAFKA_LINGER_MS: '3000' });
    const inFlight = async () => Number(/^ferry_gateway_producer_in_flight (\d+)/m.exec(await (await fetch(`${g.url}/metrics`)).text())?.[1]);
    const before = await count('page_views');

    const batch = postJson(`${g.url}/v1/events/page_views`, Array.from({ length: 8 }, (_, i) => view(`bp-a-${i}`)));
    await waitFor(async () => (await inFlight()) === 5, { what: 'five records held by librdkafka', timeoutMs: 10_000, intervalMs: 50 });

    const overBound = await postJson(`${g.url}/v1/events/page_views`, Array.from({ length: 8 }, (_, i) => view(`bp-b-${i}`)));
    assert.equal(overBound.status, 503);
    assert.equal(overBound.headers.get('retry-after'), '1');
    assert.equal(overBound.headers.get('content-type'), 'application/problem+json');
    assert.match(String(overBound.json.detail), /too many records waiting for Kafka/);

    const queueFull = await postJson(`${g.url}/v1/events/page_views`, view('bp-c'));
    assert.equal(queueFull.status, 503);
    assert.equal(queueFull.headers.get('retry-after'), '1');
    assert.equal(queueFull.json.detail, 'producer queue is full');

    const partial = await batch;
    assert.equal(partial.status, 207, JSON.stringify(partial.json));
    const results = partial.json.results as { status: string; index?: number; event_id: string; partition?: number; offset?: string }[];
    assert.equal(partial.json.accepted, 5);
    assert.equal(partial.json.failed, 3);
    assert.deepEqual(results.filter((r) => r.status === 'failed').map((r) => r.index), [5, 6, 7]);

    assert.equal(await count('page_views'), before + 5);
    const inKafka = (await readTopic(iso.env.KAFKA_BROKERS!, iso.topic('page_views'), before + 5)).map((r) => ({
      partition: r.partition,
      offset: r.offset,
      id: String(codec.decode(r.value).value.event_id),
    }));
    for (const r of results) {
      const found = inKafka.find((k) => k.id === r.event_id);
      if (r.status === 'accepted') assert.deepEqual(found, { partition: r.partition, offset: r.offset, id: r.event_id });
      else assert.equal(found, undefined, `failed event ${r.index} is not in Kafka`);
    }
  });
});

/** Kafka's Utils.murmur2 (the Java client's default partitioner), on 32-bit ints. */
function murmur2(data: Uint8Array): number {
  const m = 0x5bd1e995;
  const r = 24;
  const length = data.length;
  let h = (0x9747b28c ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = (data[i4]! & 0xff) | ((data[i4 + 1]! & 0xff) << 8) | ((data[i4 + 2]! & 0xff) << 16) | ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = length & ~3;
  switch (length % 4) {
    case 3:
      h ^= (data[tail + 2]! & 0xff) << 16;
    // falls through
    case 2:
      h ^= (data[tail + 1]! & 0xff) << 8;
    // falls through
    case 1:
      h ^= data[tail]! & 0xff;
      h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** Utils.toPositive(Utils.murmur2(key)) % partitions, as the Java producer picks a partition. */
const javaPartition = (key: string, partitions: number) => (murmur2(new TextEncoder().encode(key)) & 0x7fffffff) % partitions;

describe('key -> partition', () => {
  test("murmur2 in this test matches Kafka's own test vectors and the Java client", () => {
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
      // Computed with kafka-clients 4.1.1 Utils.murmur2 on the UTF-8 bytes.
      ['o-1', 747680922],
      ['ключ-1', -647031551],
      ['注文-42', -787707910],
      ['ü', 1419834458],
      ['user-😀', -1358553031],
    ];
    for (const [key, hash] of vectors) assert.equal(murmur2(new TextEncoder().encode(key)), hash, key);
  });

  test('the gateway puts every key on the partition the Java producer would (murmur2_random), as Kafka confirms', async () => {
    const g = await gateway();
    const [meta] = (await admin.fetchTopicMetadata({ topics: [iso.topic('orders')] })) as unknown as { partitions: unknown[] }[];
    const partitions = meta!.partitions.length;
    assert.equal(partitions, 6);
    const keys = [...Array.from({ length: 400 }, (_, i) => `order-${i}-${(i * 7919) % 1000}`), 'o-1', 'ключ-1', '注文-42', 'ü', 'user-😀', 'x'.repeat(128)];
    const answered = new Map<string, number>();
    const before = await count('orders');
    for (let i = 0; i < keys.length; i += 250) {
      const slice = keys.slice(i, i + 250);
      const res = await postJson(`${g.url}/v1/events/orders`, slice.map((id) => orderEvent(id, 'created', '2026-11-23T10:00:00Z')));
      assert.equal(res.status, 202, JSON.stringify(res.json));
      (res.json.results as { partition: number }[]).forEach((r, j) => answered.set(slice[j]!, r.partition));
    }
    const wrong = keys.filter((k) => answered.get(k) !== javaPartition(k, partitions));
    assert.deepEqual(wrong, [], 'keys on another partition than Java would choose');
    assert.equal(new Set(answered.values()).size, partitions, 'the keys spread over every partition');
    // Java's reference values for the non-ASCII keys, from kafka-clients itself.
    assert.deepEqual(['o-1', 'ключ-1', '注文-42', 'ü', 'user-😀'].map((k) => answered.get(k)), [0, 3, 4, 2, 1]);

    const records = await readTopic(iso.env.KAFKA_BROKERS!, iso.topic('orders'), before + keys.length);
    const mine = records.filter((r) => answered.has(r.key));
    assert.equal(mine.length, keys.length);
    for (const r of mine) assert.equal(r.partition, javaPartition(r.key, partitions), r.key);
  });
});
