import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Codec } from '../schemas/codec.ts';
import { loadRegistry } from '../schemas/registry.ts';
import { createApp } from './app.ts';
import { avroToJsonSchema, type JsonSchema, type OpenApiDocument } from './openapi.ts';
import { FakeProducer, FakeReadModel } from '../test/fakes.ts';

const registry = loadRegistry();
const app = createApp({
  registry,
  codec: new Codec(registry),
  producer: new FakeProducer(),
  readModel: new FakeReadModel(),
  corsOrigins: ['https://shop.example'],
  observe: { metrics: (c) => c.text('# metrics') },
});

/** Every `$ref` in the document, with where it was found. */
function refs(node: unknown, at = '#', out: [string, string][] = []): [string, string][] {
  if (Array.isArray(node)) node.forEach((v, i) => refs(v, `${at}/${i}`, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push([v, at]);
      else refs(v, `${at}/${k}`, out);
    }
  }
  return out;
}

describe('GET /openapi.json', () => {
  it('describes every route the app serves, with its method', async () => {
    const spec = (await (await app.request('/openapi.json')).json()) as OpenApiDocument;
    assert.equal(spec.openapi, '3.1.0');
    const served = app.routes
      .filter((r) => r.method !== 'ALL')
      .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([A-Za-z_]+)/g, '{$1}')}`);
    const documented = Object.entries(spec.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    assert.deepEqual([...new Set(served)].sort(), documented.sort());
  });

  it('resolves every $ref, and documents the problem responses and headers of the ingest route', async () => {
    const spec = (await (await app.request('/openapi.json')).json()) as OpenApiDocument;
    for (const [ref, at] of refs(spec)) {
      const [hash, components, kind, name] = ref.split('/');
      assert.equal(`${hash}/${components}`, '#/components', at);
      assert.ok((spec.components as Record<string, Record<string, unknown>>)[kind!]?.[name!], `${ref} at ${at}`);
    }
    const post = spec.paths['/v1/events/{topic}']!.post!;
    assert.deepEqual(Object.keys(post.responses).sort(), [
      '200',
      '202',
      '207',
      '400',
      '401',
      '403',
      '404',
      '409',
      '413',
      '415',
      '422',
      '429',
      '500',
      '501',
      '503',
    ]);
    assert.deepEqual(
      (post.parameters as { $ref: string }[]).map((p) => p.$ref.split('/').pop()),
      ['Topic', 'IdempotencyKey', 'Prefer', 'Traceparent'],
    );
    assert.deepEqual(Object.keys(spec.components.securitySchemes).sort(), ['apiKey', 'beaconKey', 'bearer']);
    const problemResponse = spec.components.responses.TooManyRequests as { content: Record<string, unknown>; headers: Record<string, unknown> };
    assert.deepEqual(Object.keys(problemResponse.content), ['application/problem+json']);
    assert.ok(problemResponse.headers['Retry-After']);
    const get = spec.paths['/v1/orders/{order_id}']!.get!;
    for (const op of [post, spec.paths['/v1/beacon/{topic}']!.post!, get]) {
      assert.ok(op.responses['429'] && op.responses['503'], 'rate limited, and 503 when the limiter is down');
    }
    assert.match((spec.components.responses.ServiceUnavailable as { description: string }).description, /rate limiter/);
    // A replay cut to its summary (IDEMPOTENCY_MAX_ANSWER_BYTES) is documented with its detail.
    for (const status of ['200', '202', '207']) {
      const schema = (post.responses[status] as { content: Record<string, { schema: { oneOf: { $ref: string }[] } }> }).content['application/json']!.schema;
      assert.ok(schema.oneOf.some((s) => s.$ref === '#/components/schemas/ReplayedSummary'), status);
    }
    assert.deepEqual((spec.components.schemas.ReplayedSummary as { required: string[] }).required, ['detail']);
    assert.ok(get.responses['304'] && (get.responses['200'] as { headers: Record<string, unknown> }).headers.ETag);
    assert.deepEqual((spec.components.parameters.Topic as { schema: { enum: string[] } }).schema.enum, [...registry.topics.keys()]);
  });

  it('turns the Avro schemas into the JSON clients send', () => {
    const orders = avroToJsonSchema(registry.topics.get('orders')!.latest.schema);
    const props = orders.properties as Record<string, JsonSchema>;
    assert.equal(orders.additionalProperties, false);
    assert.deepEqual(orders.required, ['order_id', 'customer_id', 'status', 'amount_cents', 'currency', 'occurred_at']);
    assert.equal(props.received_at, undefined, 'server-set fields are not sent');
    assert.deepEqual(props.event_id!.format, 'uuid');
    assert.deepEqual(props.status, { type: 'string', enum: ['created', 'paid', 'shipped', 'cancelled'] });
    assert.deepEqual(props.currency!.pattern, '^[A-Z]{3}$');
    assert.deepEqual(props.amount_cents, { type: 'integer', format: 'int64', minimum: 0, maximum: 2 ** 53 - 2, description: '0 to 2^53 - 2.' });
    assert.equal(props.order_id!.minLength, 1);
    assert.equal(props.order_id!.maxLength, 128);
    assert.match(String(props.order_id!.description), /U\+0000/);
    assert.equal(props.occurred_at!.formatMinimum, '1970-01-01T00:00:00.000Z');
    assert.equal(props.occurred_at!.formatMaximum, '2106-02-06T23:59:59.999Z');
    assert.equal(props.occurred_at!.format, 'date-time');
    const items = props.items as { maxItems: number; items: JsonSchema };
    assert.equal(items.maxItems, 1000);
    assert.deepEqual((items.items.properties as Record<string, JsonSchema>).quantity, {
      type: 'integer',
      format: 'int32',
      minimum: 1,
      maximum: 2 ** 31 - 1,
      description: '1 to 2^31 - 1.',
    });
    const views = avroToJsonSchema(registry.topics.get('page_views')!.latest.schema);
    const referrer = (views.properties as Record<string, JsonSchema>).referrer as { anyOf: JsonSchema[] };
    assert.equal(referrer.anyOf[0]!.maxLength, 2048);
    assert.deepEqual(referrer.anyOf[1], { type: 'null' });
  });

  it('derives the Order answer and the order id parameter from the orders schema', async () => {
    const spec = (await (await app.request('/openapi.json')).json()) as OpenApiDocument;
    const order = spec.components.schemas.Order as { required: string[]; properties: Record<string, JsonSchema> };
    assert.deepEqual(order.required, ['event_id', 'order_id', 'customer_id', 'status', 'amount_cents', 'currency', 'items', 'occurred_at', 'updated_at']);
    assert.equal(order.properties.received_at, undefined);
    assert.equal(order.properties.order_id!.maxLength, 128);
    assert.deepEqual(order.properties.status!.enum, ['created', 'paid', 'shipped', 'cancelled']);
    assert.equal(order.properties.occurred_at!.format, 'date-time');
    const orderId = spec.components.parameters.OrderId as { schema: JsonSchema };
    assert.equal(orderId.schema.minLength, 1);
    assert.equal(orderId.schema.maxLength, 128);
  });
});

describe('GET /docs', () => {
  it('is one self-contained page: no scripts, no external resources, every route listed', async () => {
    const res = await app.request('/docs');
    assert.equal(res.status, 200);
    assert.match(String(res.headers.get('content-type')), /^text\/html/);
    assert.match(String(res.headers.get('content-security-policy')), /default-src 'none'/);
    const html = await res.text();
    assert.doesNotMatch(html, /<script|<link|@import|src=/i);
    assert.deepEqual(html.match(/(href|src)="https?:[^"]*"/g), null);
    for (const path of ['/v1/events/{topic}', '/v1/orders/{order_id}', '/healthz', '/metrics']) assert.ok(html.includes(`<code>${path}</code>`), path);
    for (const text of ['Idempotency-Key', 'Prefer', 'OrdersEvent', 'PageViewsEvent', 'application/problem+json', 'If-None-Match']) {
      assert.ok(html.includes(text), text);
    }
  });
});

describe('CORS', () => {
  it('answers a preflight from an allowed origin, and marks every answer (errors too) for it', async () => {
    const pre = await app.request('/v1/events/orders', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, idempotency-key, prefer',
      },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://shop.example');
    assert.match(String(pre.headers.get('access-control-allow-headers')), /Idempotency-Key/);
    assert.match(String(pre.headers.get('access-control-allow-methods')), /POST/);

    const problem = await app.request('/v1/events/orders', {
      method: 'POST',
      headers: { origin: 'https://shop.example', 'content-type': 'text/plain' },
      body: 'x',
    });
    assert.equal(problem.status, 415);
    assert.equal(problem.headers.get('access-control-allow-origin'), 'https://shop.example');
    assert.match(String(problem.headers.get('access-control-expose-headers')), /Retry-After/);

    const other = await app.request('/healthz', { headers: { origin: 'https://evil.example' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });
});
