import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { parseApiKeys } from '../lib/api-keys.ts';
import { parseTraceparent } from '../lib/tracing.ts';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { createApp, type GatewayOptions } from './app.ts';
import { createAuthenticator } from './auth.ts';
import { FakeProducer, MemoryIdempotencyStore, order, post } from '../test/fakes.ts';

const registry = loadRegistry();
const codec = new Codec(registry);
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const CLIENT = `00-${TRACE}-${SPAN}-01`;

function setup(options: Partial<GatewayOptions> = {}, producer = new FakeProducer()) {
  const lines: { level: string; obj: Record<string, unknown>; msg?: string }[] = [];
  const logger = {
    debug: (obj: object, msg?: string) => lines.push({ level: 'debug', obj: obj as Record<string, unknown>, msg }),
    info: (obj: object, msg?: string) => lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
    warn: (obj: object, msg?: string) => lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
  };
  const app = createApp({ producer, registry, codec, logger, ...options });
  return { app, producer, lines };
}

function answered(res: Response) {
  const value = res.headers.get('traceparent');
  assert.ok(value, 'the answer carries a traceparent');
  const context = parseTraceparent(value);
  assert.ok(context, `valid traceparent: ${value}`);
  return { value, context };
}

describe('traceparent on event requests', () => {
  it('continues the client’s trace with a new span id, in the answer and on every record of the batch', async () => {
    const { app, producer, lines } = setup();
    const res = await app.request(
      '/v1/events/orders',
      post([order('a'), order('b'), order('c')], { traceparent: CLIENT, tracestate: 'rojo=00f067aa0ba902b7' }),
    );
    assert.equal(res.status, 202);
    const { value, context } = answered(res);
    assert.equal(context.traceId, TRACE);
    assert.notEqual(context.spanId, SPAN);
    assert.equal(context.traceFlags, 1);
    assert.equal(producer.records.length, 3);
    for (const r of producer.records) {
      assert.deepEqual(r.headers, { 'ferry-tenant': 'default', traceparent: value, tracestate: 'rojo=00f067aa0ba902b7' });
    }
    assert.deepEqual(lines, [{ level: 'debug', obj: { route: '/v1/events/{topic}', topic: 'orders', status: 202, trace_id: TRACE }, msg: 'events request' }]);
  });

  it('starts a new trace when none or an invalid one was sent', async () => {
    const { app, producer } = setup();
    const seen = new Set<string>();
    for (
      const headers of [{}, { traceparent: 'garbage' }, { traceparent: `00-${'0'.repeat(32)}-${SPAN}-01` }, { traceparent: CLIENT.toUpperCase() }, {
        tracestate: 'a=b',
      }] as Record<string, string>[]
    ) {
      const res = await app.request('/v1/events/orders', post(order(), headers));
      assert.equal(res.status, 202);
      const { value, context } = answered(res);
      assert.notEqual(context.traceId, TRACE);
      assert.equal(context.traceFlags, 1, 'a trace started here is sampled');
      seen.add(context.traceId);
      assert.deepEqual(
        producer.records.at(-1)!.headers,
        { 'ferry-tenant': 'default', traceparent: value },
        'a tracestate without a valid traceparent is dropped',
      );
    }
    assert.equal(seen.size, 5, 'each request its own trace');
  });

  it('answers refusals and beacons with a traceparent too, and logs a failed produce as a warning', async () => {
    const hash = (s: string) => createHash('sha256').update(s).digest('hex');
    const key = 'fry_web_Xq2m7Lc9Vt4Rb8Nk1Zp6Hs3Jd5Wf0Gy';
    const keys = parseApiKeys(JSON.stringify([{ id: 'web', tenant: 'acme', sha256: hash(key), scopes: ['write:page_views'], beacon: true }]));
    const { app } = setup({ authenticator: createAuthenticator({ apiKeys: keys }), corsOrigins: ['*'] });
    const refused = await app.request('/v1/events/orders', post(order(), { traceparent: CLIENT }));
    assert.equal(refused.status, 401);
    assert.equal(answered(refused).context.traceId, TRACE);
    const view = { user_id: 'u', url: 'https://shop.example/', occurred_at: '2026-12-04T10:00:00Z' };
    const beacon = await app.request(`/v1/beacon/page_views?key=${key}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', traceparent: CLIENT },
      body: JSON.stringify(view),
    });
    assert.equal(beacon.status, 202);
    assert.equal(answered(beacon).context.traceId, TRACE);

    const down = setup({}, new FakeProducer(() => true));
    const failed = await down.app.request('/v1/events/orders', post(order(), { traceparent: CLIENT }));
    assert.equal(failed.status, 503);
    assert.equal(answered(failed).context.traceId, TRACE);
    assert.deepEqual(down.lines.map((l) => [l.level, l.msg, l.obj.trace_id]), [['warn', 'events request failed', TRACE]]);
  });

  it('lets browsers send and read it', async () => {
    const { app } = setup({ corsOrigins: ['https://shop.example'] });
    const preflight = await app.request('/v1/events/orders', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, traceparent, tracestate',
      },
    });
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /traceparent/i);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /tracestate/i);
    const res = await app.request('/v1/events/orders', post(order(), { origin: 'https://shop.example' }));
    assert.match(res.headers.get('access-control-expose-headers') ?? '', /traceparent/i);
  });

  it('an idempotent replay answers with its own request’s traceparent', async () => {
    const { app, producer } = setup({ idempotency: new MemoryIdempotencyStore() });
    const first = await app.request('/v1/events/orders', post(order(), { 'idempotency-key': 'k1', traceparent: CLIENT }));
    const again = await app.request('/v1/events/orders', post(order(), { 'idempotency-key': 'k1' }));
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.notEqual(answered(again).context.traceId, answered(first).context.traceId);
    assert.equal(producer.records.length, 1);
  });

  it('leaves other routes alone', async () => {
    const { app, lines } = setup();
    assert.equal((await app.request('/healthz', { headers: { traceparent: CLIENT } })).headers.get('traceparent'), null);
    assert.equal((await app.request('/v1/orders/o-1', { headers: { traceparent: CLIENT } })).headers.get('traceparent'), null);
    assert.deepEqual(lines, []);
  });
});
