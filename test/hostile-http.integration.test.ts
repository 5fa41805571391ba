/**
 * Hostile HTTP against the real Node gateway, over raw sockets (fetch cannot send conflicting
 * framing, duplicate headers or bytes that are not UTF-8): fast-check picks methods, paths,
 * headers, bodies and credentials. Whatever comes, the gateway answers with no 5xx (501 only for
 * a transfer coding it does not decode), produces nothing for a refused request (the topics hold
 * exactly the accepted events), still answers /healthz quickly, and its memory returns near its
 * baseline.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { isolate, type Isolated, type Proc, startGateway } from './helpers.ts';
import { readTopic } from './kafka-reader.ts';

const KEY = 'fry_hostile_writer_0123456789abcdefghij';
const NARROW = 'fry_hostile_narrow_0123456789abcdefghij';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const MAX_BODY = 64 * 1024;
const RUNS = Number(process.env.HOSTILE_RUNS ?? 1500);

let iso: Isolated;
let gateway: { proc: Proc; url: string };
let port: number;

before(async () => {
  iso = await isolate();
  gateway = await startGateway({
    ...iso.env,
    FERRY_API_KEYS: JSON.stringify([
      { id: 'writer', tenant: 'acme', sha256: sha(KEY), scopes: ['write:orders', 'write:page_views', 'read:orders'] },
      { id: 'narrow', tenant: 'acme', sha256: sha(NARROW), scopes: ['write:page_views'] },
    ]),
    MAX_BODY_BYTES: String(MAX_BODY),
    MAX_BATCH_EVENTS: '50',
    CORS_ORIGINS: 'https://shop.example',
    HTTP_HEADERS_TIMEOUT_MS: '2000',
    HTTP_REQUEST_TIMEOUT_MS: '4000',
  });
  port = Number(new URL(gateway.url).port);
});

after(async () => {
  assert.equal(await gateway?.proc.stop(), 0);
  await iso?.cleanup();
});

interface Answer {
  status: number;
  head: string;
  body: string;
}

/** Sends raw bytes on a fresh connection and reads the first answer (or none, if the server closed). */
function send(bytes: Buffer): Promise<Answer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer within 10 s to ${JSON.stringify(bytes.subarray(0, 300).toString('latin1'))}`));
    }, 10_000);
    s.on('data', (b: Buffer) => chunks.push(b));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      // An interim 100 Continue (for Expect) comes before the answer.
      const text = Buffer.concat(chunks).toString('latin1').replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (!m) return resolve(undefined);
      const at = text.indexOf('\r\n\r\n');
      resolve({ status: Number(m[1]), head: text.slice(0, at), body: text.slice(at + 4) });
    });
    // Not end(): a half-closed socket makes Node's server drop the answer. Connection: close ends it.
    s.write(bytes);
  });
}

// --- what fast-check picks ---

const validView = fc.record({
  user_id: fc.stringMatching(/^[a-z0-9-]{1,20}$/),
  url: fc.constant('https://shop.example/p'),
  occurred_at: fc.constant('2026-11-23T10:00:00Z'),
});
const validOrder = fc.record({
  order_id: fc.stringMatching(/^[a-z0-9-]{1,20}$/),
  customer_id: fc.constant('c-1'),
  status: fc.constantFrom('created', 'paid'),
  amount_cents: fc.integer({ min: 0, max: 1_000_000 }),
  currency: fc.constant('EUR'),
  items: fc.constant([]),
  occurred_at: fc.constant('2026-11-23T10:00:00Z'),
});
const anyJson = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(2 ** 53 + 2, -(2 ** 53) - 2, 1e308, -0, 2 ** 63, 0.1),
  fc.string({ unit: 'binary', maxLength: 40 }),
);
/** A valid event with some fields replaced by any JSON value, or extra keys. */
const mangled = fc.tuple(
  fc.oneof(validView, validOrder),
  fc.dictionary(fc.constantFrom('user_id', 'url', 'occurred_at', 'order_id', 'amount_cents', 'items', 'status', 'event_id', 'extra'), anyJson, { maxKeys: 3 }),
).map(([e, over]) => ({ ...e, ...over }));

const deepNesting = fc.integer({ min: 100, max: 200_000 }).map((n) => Buffer.from(`${'['.repeat(n)}${']'.repeat(n)}`));
const deepInField = fc.integer({ min: 100, max: 20_000 }).map((n) =>
  Buffer.from(`{"user_id":${'['.repeat(n)}${']'.repeat(n)},"url":"https://shop.example/","occurred_at":"2026-11-23T10:00:00Z"}`)
);
const hugeArray = fc.integer({ min: 51, max: 30_000 }).map((n) => Buffer.from(`[${Array(n).fill('{}').join(',')}]`));
const invalidUtf8 = fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) =>
  Buffer.concat([Buffer.from('{"user_id":"'), Buffer.from(b), Buffer.from([0xff, 0xfe, 0xc0]), Buffer.from('"}')])
);
const protoKeys = fc.constantFrom(
  '{"__proto__":{"user_id":"x"},"url":"https://shop.example/","occurred_at":"2026-11-23T10:00:00Z"}',
  '{"user_id":"p","url":"https://shop.example/","occurred_at":"2026-11-23T10:00:00Z","__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}',
  '[{"__proto__":null}]',
  '{"order_id":"o","customer_id":"c","status":"paid","amount_cents":9007199254740993,"currency":"EUR","items":[],"occurred_at":"2026-11-23T10:00:00Z"}',
  '{"order_id":"o","customer_id":"c","status":"paid","amount_cents":1e400,"currency":"EUR","items":[{"sku":"a","quantity":-1e21,"price_cents":1}],"occurred_at":"2026-11-23T10:00:00Z"}',
).map((t) => Buffer.from(t));
const jsonBody = fc.oneof(mangled, fc.array(mangled, { maxLength: 8 }), anyJson).map((v) => Buffer.from(JSON.stringify(v) ?? 'null'));
const ndjsonBody = fc.array(mangled, { maxLength: 8 }).map((vs) => Buffer.from(vs.map((v) => JSON.stringify(v)).join('\n')));
const body = fc.oneof(
  { weight: 6, arbitrary: jsonBody },
  { weight: 2, arbitrary: ndjsonBody },
  { weight: 1, arbitrary: deepNesting },
  { weight: 1, arbitrary: deepInField },
  { weight: 1, arbitrary: hugeArray },
  { weight: 1, arbitrary: invalidUtf8 },
  { weight: 1, arbitrary: protoKeys },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
);

const method = fc.constantFrom('POST', 'POST', 'POST', 'GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'FOO');
const path = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('/v1/events/orders', '/v1/events/page_views') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '/v1/events/unknown',
      '/v1/events/',
      '/v1/beacon/page_views',
      `/v1/beacon/page_views?key=${KEY}`,
      '/readyz',
      '/healthz',
      '/metrics',
      '/docs',
      '/openapi.json',
      '/%ZZ',
      '/v1/events/orders/../orders',
      '//v1/events/orders',
      '/v1/events/orders?x=%00',
    ),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).map((s) => `/v1/orders/${encodeURIComponent(s.replace(/[\ud800-\udfff]/g, 'x'))}`) },
  { weight: 1, arbitrary: fc.constantFrom('/v1/orders/a%00b', '/v1/orders/%ED%A0%80', '/v1/orders/%FF', `/v1/orders/${'a'.repeat(5000)}`) },
);
const credential = fc.constantFrom<[string, string][]>(
  [['x-api-key', KEY]],
  [['x-api-key', KEY]],
  [['authorization', `Bearer ${KEY}`]],
  [['x-api-key', NARROW]],
  [],
  [['x-api-key', 'fry_wrong']],
  [['authorization', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.']],
  [['authorization', `Basic ${'A'.repeat(3000)}`]],
  [['x-api-key', KEY], ['x-api-key', 'fry_wrong']],
  [['authorization', 'Bearer'], ['x-api-key', '']],
);
const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/x-ndjson',
  'text/plain',
  'application/xml',
  '',
  'application/json, application/x-ndjson',
);
/** How the body is framed: the declared length right, wrong or twice, chunked, both, or none. */
const framing = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom('length', 'chunked') },
  { weight: 4, arbitrary: fc.constantFrom('chunked-bad', 'length+chunked', 'two-lengths', 'short-length', 'no-length', 'te-gzip', 'te-identity') },
);
const extraHeaders = fc.array(
  fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom<[string, string]>(
      ['prefer', 'wait=1'],
      ['idempotency-key', 'k-1'],
      ['idempotency-key', ' '],
      ['content-encoding', 'gzip'],
      ['origin', 'https://evil.example'],
      ['origin', 'https://shop.example'],
      ['expect', '100-continue'],
      ['connection', 'keep-alive, upgrade'],
      ['upgrade', 'websocket'],
      ['if-none-match', '*'],
    ),
    fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), fc.string({ maxLength: 40 }).map((s) => s.replace(/[\r\n\0]/g, ' '))),
    fc.integer({ min: 8_000, max: 40_000 }).map((n): [string, string] => ['x-huge', 'h'.repeat(n)]),
  ),
  { maxLength: 2 },
);

interface Req {
  method: string;
  path: string;
  credential: [string, string][];
  contentType: string;
  framing: string;
  headers: [string, string][];
  body: Buffer;
}

function encode(r: Req): Buffer {
  const lines = [`${r.method} ${r.path} HTTP/1.1`, 'Host: gateway.test', 'Connection: close'];
  for (const [k, v] of r.credential) lines.push(`${k}: ${v}`);
  if (r.contentType) lines.push(`Content-Type: ${r.contentType}`);
  for (const [k, v] of r.headers) lines.push(`${k}: ${v}`);
  let payload = r.body;
  switch (r.framing) {
    case 'length':
      lines.push(`Content-Length: ${r.body.length}`);
      break;
    case 'short-length':
      lines.push(`Content-Length: ${Math.max(0, r.body.length - 3)}`);
      break;
    case 'two-lengths':
      lines.push(`Content-Length: ${r.body.length}`, `Content-Length: ${r.body.length + 1}`);
      break;
    case 'chunked':
    case 'chunked-bad':
      lines.push('Transfer-Encoding: chunked');
      payload = Buffer.concat([
        Buffer.from(`${r.body.length.toString(16)}${r.framing === 'chunked-bad' ? 'zz' : ''}\r\n`),
        r.body,
        Buffer.from('\r\n0\r\n\r\n'),
      ]);
      break;
    case 'length+chunked':
      lines.push(`Content-Length: ${r.body.length}`, 'Transfer-Encoding: chunked');
      payload = Buffer.concat([Buffer.from(`${r.body.length.toString(16)}\r\n`), r.body, Buffer.from('\r\n0\r\n\r\n')]);
      break;
    case 'te-gzip':
    case 'te-identity':
      lines.push(`Transfer-Encoding: ${r.framing === 'te-gzip' ? 'gzip, chunked' : 'identity'}`);
      payload = Buffer.concat([Buffer.from(`${r.body.length.toString(16)}\r\n`), r.body, Buffer.from('\r\n0\r\n\r\n')]);
      break;
    case 'no-length':
      break;
  }
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload]);
}

function rss(): number {
  const status = readFileSync(`/proc/${gateway.proc.child.pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
}

async function healthzMs(): Promise<number> {
  const started = Date.now();
  const res = await fetch(`${gateway.url}/healthz`);
  assert.equal(res.status, 200);
  return Date.now() - started;
}

/** A well-formed request with valid events, now and then, so accepted ones are mixed in. */
const friendly = fc.oneof(
  fc.array(validView, { minLength: 1, maxLength: 5 }).map((vs) => ({
    path: '/v1/events/page_views',
    body: Buffer.from(JSON.stringify(vs.length === 1 ? vs[0] : vs)),
  })),
  fc.array(validOrder, { minLength: 1, maxLength: 5 }).map((os) => ({ path: '/v1/events/orders', body: Buffer.from(JSON.stringify(os)) })),
).map(({ path, body }): Req => ({
  method: 'POST',
  path,
  credential: [['x-api-key', KEY]],
  contentType: 'application/json',
  framing: 'length',
  headers: [],
  body,
}));
const hostile = fc.record({ method, path, credential, contentType, framing, headers: extraHeaders, body });

test(`${RUNS} hostile requests: no 5xx, nothing produced for a refused one, healthy after, memory back near its baseline`, { timeout: 300_000 }, async () => {
  // Warm up, so the baseline includes the code paths' first allocations.
  for (let i = 0; i < 30; i++) {
    await send(
      encode({
        method: 'POST',
        path: '/v1/events/page_views',
        credential: [['x-api-key', KEY]],
        contentType: 'application/json',
        framing: 'length',
        headers: [],
        body: Buffer.from('{}'),
      }),
    );
  }
  await new Promise((r) => setTimeout(r, 1_000));
  const baseline = rss();

  const accepted = { orders: 0, page_views: 0 };
  const statuses = new Map<number, number>();
  let unanswered = 0;
  let peak = baseline;
  await fc.assert(
    fc.asyncProperty(fc.oneof({ weight: 1, arbitrary: friendly }, { weight: 4, arbitrary: hostile }), async (r: Req) => {
      const answer = await send(encode(r));
      if (!answer) {
        unanswered++;
        return;
      }
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      const transferCoding = r.framing === 'te-gzip' || r.framing === 'te-identity';
      assert.ok(
        answer.status < 500 || (answer.status === 501 && transferCoding),
        `${answer.status} for ${r.method} ${r.path} (${r.framing}): ${answer.body.slice(0, 300)}`,
      );
      const topic = /^\/v1\/(?:events|beacon)\/(orders|page_views)/.exec(r.path)?.[1] as 'orders' | 'page_views' | undefined;
      if (answer.status === 202 || answer.status === 207 || (answer.status === 200 && r.method === 'POST')) {
        assert.ok(topic && r.method === 'POST', `${answer.status} for ${r.method} ${r.path}`);
        const text = /transfer-encoding: chunked/i.test(answer.head) ? dechunk(answer.body) : answer.body;
        const json = JSON.parse(text) as { accepted?: number; event_id?: string };
        accepted[topic] += json.accepted ?? (json.event_id ? 1 : 0);
      }
      peak = Math.max(peak, rss());
    }),
    { numRuns: RUNS, endOnFailure: true },
  );
  console.log(JSON.stringify({ statuses: Object.fromEntries(statuses), unanswered, accepted, baselineMb: baseline >> 20, peakMb: peak >> 20 }));

  assert.ok((await healthzMs()) < 200, '/healthz answers quickly after');
  for (const topic of ['orders', 'page_views'] as const) {
    // One more than accepted: the reader stops early only if something extra is there.
    const records = await readTopic(iso.env.KAFKA_BROKERS!, iso.topic(topic), accepted[topic] + 1, 10_000);
    assert.equal(records.length, accepted[topic], `${topic}: the topic holds exactly the accepted events`);
  }
  const limit = baseline + 96 * 1024 * 1024;
  let now = rss();
  for (let i = 0; i < 30 && now > limit; i++) {
    await new Promise((r) => setTimeout(r, 1_000));
    await healthzMs();
    now = rss();
  }
  assert.ok(now <= limit, `RSS ${now >> 20} MB, baseline ${baseline >> 20} MB`);
});

function dechunk(body: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    const size = parseInt(body.slice(at, eol), 16);
    if (!size) return out;
    out += body.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}
