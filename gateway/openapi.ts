/**
 * The OpenAPI 3.1 description of the gateway, built from the schema registry so the event
 * bodies it documents are exactly the ones the gateway validates. Served at /openapi.json and
 * rendered for people at /docs (docs-page.ts).
 */
import { fieldJsonSchema, type JsonSchema, recordJsonSchema } from '../schemas/json-schema.ts';
import type { Registry } from '../schemas/registry.ts';
import type { SchemaObject } from '../schemas/validate.ts';

export type { JsonSchema };
export type OpenApiDocument = {
  openapi: string;
  info: { title: string; version: string; description: string };
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, JsonSchema>;
    parameters: Record<string, JsonSchema>;
    headers: Record<string, JsonSchema>;
    responses: Record<string, JsonSchema>;
    securitySchemes: Record<string, JsonSchema>;
  };
  tags: { name: string; description: string }[];
};
export type Operation = {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  parameters?: JsonSchema[];
  requestBody?: JsonSchema;
  responses: Record<string, JsonSchema>;
  security?: Record<string, string[]>[];
};

export interface OpenApiOptions {
  registry: Registry;
  maxBodyBytes: number;
  maxBatchEvents: number;
  maxWaitSeconds: number;
  /** Whether API keys or tokens are required (documented either way). */
  auth: boolean;
  /** Whether GET /metrics is mounted. */
  metrics: boolean;
}

const ref = (kind: string, name: string) => ({ $ref: `#/components/${kind}/${name}` });
const problemContent = (schema = 'Problem') => ({ 'application/problem+json': { schema: ref('schemas', schema) } });

/** `orders` -> `OrdersEvent`, `page_views` -> `PageViewsEvent`. */
export function eventSchemaName(topic: string): string {
  return `${topic.split(/[^A-Za-z0-9]+/).map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('')}Event`;
}

export function buildOpenApi(options: OpenApiOptions): OpenApiDocument {
  const { registry, maxBodyBytes, maxBatchEvents, maxWaitSeconds } = options;
  const topics = [...registry.topics.keys()];
  const eventSchemas: Record<string, JsonSchema> = {};
  for (const [topic, entry] of registry.topics) {
    eventSchemas[eventSchemaName(topic)] = {
      ...avroToJsonSchema(entry.latest.schema),
      description: `${
        String(entry.latest.schema.doc ?? `An event of topic ${topic}.`)
      } Kafka key: \`${entry.key}\`. Schema id ${entry.latest.id} (version ${entry.latest.version}).`,
    };
  }
  const anyEvent = { oneOf: topics.map((t) => ref('schemas', eventSchemaName(t))) };
  const secured: Record<string, string[]>[] = [{ apiKey: [] }, { bearer: [] }];

  const stdErrors = {
    '401': ref('responses', 'Unauthorized'),
    '403': ref('responses', 'Forbidden'),
    '429': ref('responses', 'TooManyRequests'),
    '500': ref('responses', 'InternalError'),
    '503': ref('responses', 'ServiceUnavailable'),
  };
  // A replay of an answer too large to keep (IDEMPOTENCY_MAX_ANSWER_BYTES) is cut down to this.
  const replayable = (...schemas: string[]) => ({ oneOf: [...schemas.map((name) => ref('schemas', name)), ref('schemas', 'ReplayedSummary')] });

  const paths: OpenApiDocument['paths'] = {
    '/v1/events/{topic}': {
      post: {
        operationId: 'postEvents',
        summary: 'Send one event, a batch, or NDJSON to a topic',
        tags: ['events'],
        description: [
          `The body is one JSON event, a JSON array of at most ${maxBatchEvents} events, or NDJSON (one event per line), at most ${maxBodyBytes} bytes. Each event must match the schema of the topic in the path.`,
          'Validation is all-or-nothing: one invalid event rejects the batch with 422 and nothing is produced. A 2xx means Kafka acknowledged the record (acks=all). If Kafka fails some records of a valid batch the answer is 207 with a result per event (retry only the failed ones); if it fails all, 503 with Retry-After.',
          `Needs the scope \`write:{topic}\`. With \`Prefer: wait=N\` (at most ${maxWaitSeconds}) the gateway answers 200 once the workers applied every event, or the usual 202 when N seconds pass first.`,
        ].join('\n\n'),
        security: secured,
        parameters: [ref('parameters', 'Topic'), ref('parameters', 'IdempotencyKey'), ref('parameters', 'Prefer'), ref('parameters', 'Traceparent')],
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: { oneOf: [anyEvent, { type: 'array', minItems: 1, maxItems: maxBatchEvents, items: anyEvent }] } },
            'application/x-ndjson': {
              schema: { type: 'string', description: 'One JSON event per line; blank lines are ignored. `application/jsonl` is accepted too.' },
            },
          },
        },
        responses: {
          '200': {
            description:
              '`Prefer: wait` was honoured: every event was applied by the workers. Orders carry the order as the read model now holds it when the credential holds `read:orders`; otherwise the answer only says the events were applied.',
            headers: {
              'Preference-Applied': ref('headers', 'PreferenceApplied'),
              'Idempotent-Replayed': ref('headers', 'IdempotentReplayed'),
              traceparent: ref('headers', 'Traceparent'),
            },
            content: { 'application/json': { schema: replayable('AppliedEvent', 'AppliedBatch') } },
          },
          '202': {
            description: 'Kafka acknowledged every event (a single event, or a batch with `failed: 0`).',
            headers: { 'Idempotent-Replayed': ref('headers', 'IdempotentReplayed'), traceparent: ref('headers', 'Traceparent') },
            content: { 'application/json': { schema: replayable('AcceptedEvent', 'BatchResult') } },
          },
          '207': {
            description: 'Batch only: Kafka acknowledged some events and failed others; `results` says which (by index).',
            headers: { 'Idempotent-Replayed': ref('headers', 'IdempotentReplayed'), traceparent: ref('headers', 'Traceparent') },
            content: { 'application/json': { schema: replayable('BatchResult') } },
          },
          '400': ref('responses', 'BadRequest'),
          ...stdErrors,
          '404': { description: 'No such topic.', content: problemContent() },
          '409': ref('responses', 'Conflict'),
          '413': ref('responses', 'ContentTooLarge'),
          '415': ref('responses', 'UnsupportedMediaType'),
          '422': ref('responses', 'UnprocessableContent'),
          '501': { description: 'A Transfer-Encoding other than `chunked` (the body would arrive still encoded).', content: problemContent() },
        },
      },
    },
    '/v1/beacon/{topic}': {
      post: {
        operationId: 'postBeacon',
        summary: 'Send events with navigator.sendBeacon (key in the URL, no preflight)',
        tags: ['events'],
        description: [
          'For web pages leaving: `navigator.sendBeacon(url, JSON.stringify(events))` sends `text/plain` without a CORS preflight and cannot set headers, so the API key comes as `?key=`. Only keys listed with `"beacon": true` are taken here (write scopes only), and the request must carry an `Origin` listed in `CORS_ORIGINS` (any, when that is `*`).',
          `The body is one JSON event or a JSON array of at most ${maxBatchEvents} events, as \`text/plain\` or \`application/json\`; validation, the 2xx and its meaning are those of \`POST /v1/events/{topic}\`. Idempotency-Key and Prefer cannot be sent by a beacon and are not offered.`,
        ].join('\n\n'),
        security: [{ beaconKey: [] }],
        parameters: [ref('parameters', 'Topic'), ref('parameters', 'Traceparent')],
        requestBody: {
          required: true,
          content: {
            'text/plain': { schema: { type: 'string', description: 'One JSON event or a JSON array of events, as text.' } },
            'application/json': { schema: { oneOf: [anyEvent, { type: 'array', minItems: 1, maxItems: maxBatchEvents, items: anyEvent }] } },
          },
        },
        responses: {
          '202': {
            description: 'Kafka acknowledged every event. (A browser does not read the answer to a beacon.)',
            content: { 'application/json': { schema: { oneOf: [ref('schemas', 'AcceptedEvent'), ref('schemas', 'BatchResult')] } } },
          },
          '207': {
            description: 'Kafka acknowledged some events and failed others.',
            content: { 'application/json': { schema: ref('schemas', 'BatchResult') } },
          },
          '400': ref('responses', 'BadRequest'),
          ...stdErrors,
          '403': { description: 'The Origin is not listed in CORS_ORIGINS, or the key lacks `write:{topic}`.', content: problemContent() },
          '404': { description: 'No such topic.', content: problemContent() },
          '413': ref('responses', 'ContentTooLarge'),
          '415': ref('responses', 'UnsupportedMediaType'),
          '422': ref('responses', 'UnprocessableContent'),
          '501': { description: 'A Transfer-Encoding other than `chunked`.', content: problemContent() },
        },
      },
    },
    '/v1/orders/{order_id}': {
      get: {
        operationId: 'getOrder',
        summary: 'Read an order from the read model',
        tags: ['orders'],
        description:
          'From the Redis cache, falling back to PostgreSQL. Needs the scope `read:orders`. Send the ETag back in If-None-Match to get 304 while the order is unchanged.',
        security: secured,
        parameters: [ref('parameters', 'OrderId'), ref('parameters', 'IfNoneMatch')],
        responses: {
          '200': {
            description: 'The order.',
            headers: {
              ETag: ref('headers', 'ETag'),
              'Cache-Control': { description: '`private, no-cache`: revalidate with If-None-Match.', schema: { type: 'string' } },
              'X-Ferry-Source': { description: '`cache` or `database`.', schema: { type: 'string', enum: ['cache', 'database'] } },
            },
            content: { 'application/json': { schema: ref('schemas', 'Order') } },
          },
          '304': { description: 'Unchanged since the ETag sent in If-None-Match.', headers: { ETag: ref('headers', 'ETag') } },
          ...stdErrors,
          '404': { description: 'No such order.', content: problemContent() },
          '501': { description: 'This gateway has no read model.', content: problemContent() },
          '503': {
            description: 'The read model (cache or database), or the rate limiter, is unreachable right now; retry after Retry-After.',
            headers: { 'Retry-After': ref('headers', 'RetryAfter') },
            content: problemContent(),
          },
        },
      },
    },
    '/healthz': {
      get: {
        operationId: 'healthz',
        summary: 'Liveness',
        tags: ['operations'],
        responses: {
          '200': {
            description: 'The process is up.',
            content: { 'application/json': { schema: { type: 'object', properties: { status: { const: 'ok' } } } } },
          },
        },
      },
    },
    '/readyz': {
      get: {
        operationId: 'readyz',
        summary: 'Readiness: Kafka, Redis and PostgreSQL reachable',
        tags: ['operations'],
        responses: {
          '200': { description: 'Ready.', content: { 'application/json': { schema: ref('schemas', 'Readiness') } } },
          '503': { description: 'A dependency is unreachable.', content: { 'application/json': { schema: ref('schemas', 'Readiness') } } },
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'openapi',
        summary: 'This document',
        tags: ['operations'],
        responses: { '200': { description: 'OpenAPI 3.1.', content: { 'application/json': { schema: { type: 'object' } } } } },
      },
    },
    '/docs': {
      get: {
        operationId: 'docs',
        summary: 'This document as a web page (no external resources)',
        tags: ['operations'],
        responses: { '200': { description: 'HTML.', content: { 'text/html': { schema: { type: 'string' } } } } },
      },
    },
  };
  if (options.metrics) {
    paths['/metrics'] = {
      get: {
        operationId: 'metrics',
        summary: 'Prometheus metrics of every gateway process on this host',
        tags: ['operations'],
        description: 'When METRICS_TOKEN is set, send it as `Authorization: Bearer <METRICS_TOKEN>`.',
        responses: {
          '200': { description: 'Prometheus text format.', content: { 'text/plain': { schema: { type: 'string' } } } },
          '401': { description: 'METRICS_TOKEN is set and was not sent.', content: problemContent() },
        },
      },
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'Ferry ingest API',
      version: '1',
      description: [
        'Ferry takes events over HTTPS, lands them durably in Kafka (Avro, Confluent wire format) and fans them out to a Redis cache, PostgreSQL and ClickHouse.',
        options.auth
          ? 'Every /v1 route needs a credential: an API key (`X-API-Key: <key>` or `Authorization: Bearer <key>`) or an HS256 JWT (`Authorization: Bearer <jwt>`); beacons take a key listed for them as `?key=`. The tenant comes from the credential, never from the body.'
          : 'Authentication is OFF on this gateway (development): every caller is tenant `default` with every scope. Production gateways require an API key or JWT on every /v1 route.',
        'Errors are RFC 9457 problem details (`application/problem+json`).',
      ].join('\n\n'),
    },
    tags: [
      { name: 'events', description: 'Ingest.' },
      { name: 'orders', description: 'The order read model.' },
      { name: 'operations', description: 'Health, readiness, documentation, metrics.' },
    ],
    paths,
    components: {
      schemas: {
        ...eventSchemas,
        AcceptedEvent: {
          type: 'object',
          required: ['event_id', 'topic', 'partition', 'offset'],
          properties: {
            event_id: { type: 'string', format: 'uuid' },
            topic: { type: 'string', enum: topics },
            partition: { type: 'integer', minimum: 0 },
            offset: { type: 'string', description: 'Kafka offset, a decimal string.' },
          },
        },
        BatchResult: {
          type: 'object',
          required: ['topic', 'accepted', 'failed', 'results'],
          properties: {
            topic: { type: 'string', enum: topics },
            accepted: { type: 'integer', minimum: 0 },
            failed: { type: 'integer', minimum: 0 },
            results: { type: 'array', items: ref('schemas', 'EventResult') },
          },
        },
        ReplayedSummary: {
          type: 'object',
          required: ['detail'],
          description:
            'With `Idempotent-Replayed: true` only: the original answer was over IDEMPOTENCY_MAX_ANSWER_BYTES, so what was kept is its summary (the orders of a `Prefer: wait` answer are dropped first, then per-event results; the counts stay).',
          properties: {
            detail: { type: 'string', description: 'Why the answer is a summary.' },
            topic: { type: 'string', enum: topics },
            accepted: { type: 'integer', minimum: 0 },
            failed: { type: 'integer', minimum: 0 },
            event_id: { type: 'string', format: 'uuid' },
            partition: { type: 'integer', minimum: 0 },
            offset: { type: 'string' },
          },
        },
        EventResult: {
          oneOf: [
            {
              type: 'object',
              required: ['status', 'event_id', 'partition', 'offset'],
              properties: {
                status: { const: 'accepted' },
                event_id: { type: 'string', format: 'uuid' },
                partition: { type: 'integer' },
                offset: { type: 'string' },
              },
            },
            {
              type: 'object',
              required: ['status', 'index', 'event_id', 'reason'],
              properties: {
                status: { const: 'failed' },
                index: { type: 'integer', minimum: 0 },
                event_id: { type: 'string', format: 'uuid' },
                reason: { type: 'string' },
              },
            },
          ],
        },
        AppliedEvent: {
          allOf: [
            ref('schemas', 'AcceptedEvent'),
            {
              type: 'object',
              required: ['applied'],
              properties: {
                applied: { type: 'array', items: { type: 'string', format: 'uuid' }, description: 'The event ids the workers applied.' },
                order: {
                  oneOf: [ref('schemas', 'Order'), { type: 'null' }],
                  description: 'Orders, to a credential holding `read:orders` only: the order as the read model now holds it (possibly a newer version).',
                },
              },
            },
          ],
        },
        AppliedBatch: {
          allOf: [
            ref('schemas', 'BatchResult'),
            {
              type: 'object',
              required: ['applied'],
              properties: {
                applied: { type: 'array', items: { type: 'string', format: 'uuid' } },
                orders: {
                  type: 'array',
                  items: { oneOf: [ref('schemas', 'Order'), { type: 'null' }] },
                  description: 'Orders, to a credential holding `read:orders` only: each distinct order of the batch, in first-seen order.',
                },
              },
            },
          ],
        },
        Order: orderSchema(registry),
        Readiness: {
          type: 'object',
          properties: { status: { type: 'string', enum: ['ready', 'unavailable'] }, checks: { type: 'object', additionalProperties: { type: 'boolean' } } },
        },
        Problem: {
          type: 'object',
          description: 'RFC 9457 problem details.',
          required: ['type', 'title', 'status'],
          properties: {
            type: { type: 'string', format: 'uri-reference', const: 'about:blank' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
          },
          additionalProperties: true,
        },
        ValidationProblem: {
          allOf: [
            ref('schemas', 'Problem'),
            {
              type: 'object',
              properties: {
                errors: {
                  type: 'array',
                  description: 'Every problem (at most 20 per event). `index` is absent when a single event was sent.',
                  items: {
                    type: 'object',
                    required: ['field', 'reason'],
                    properties: {
                      index: { type: 'integer', minimum: 0 },
                      field: { type: 'string', description: 'JSON path like `items[2].quantity`; empty for the whole event.' },
                      reason: { type: 'string' },
                    },
                  },
                },
              },
            },
          ],
        },
      },
      parameters: {
        Topic: { name: 'topic', in: 'path', required: true, schema: { type: 'string', enum: topics } },
        OrderId: { name: 'order_id', in: 'path', required: true, schema: orderIdSchema(registry) },
        IdempotencyKey: {
          name: 'Idempotency-Key',
          in: 'header',
          required: false,
          description:
            'Makes a retry safe: a request with a key already answered with a 2xx (same tenant, within 24 h) gets that answer again with `Idempotent-Replayed: true` and produces nothing. The same key with a different body answers 422; while the first request is still running, 409. Use a fresh UUID per logical request.',
          schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' },
        },
        Prefer: {
          name: 'Prefer',
          in: 'header',
          required: false,
          description:
            `RFC 7240. \`wait=N\`: answer 200 once the workers applied the events, waiting at most N seconds (capped at ${maxWaitSeconds}); otherwise the usual 202.`,
          schema: { type: 'string', examples: ['wait=5'] },
        },
        Traceparent: {
          name: 'traceparent',
          in: 'header',
          required: false,
          description:
            "W3C Trace Context. A valid one is continued (with `tracestate`), anything else ignored and a new trace started; the answer names the request's span and the events carry it to the workers.",
          schema: { type: 'string', examples: ['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'] },
        },
        IfNoneMatch: {
          name: 'If-None-Match',
          in: 'header',
          required: false,
          description: 'An ETag from an earlier answer, or `*`.',
          schema: { type: 'string' },
        },
      },
      headers: {
        RetryAfter: { description: 'Seconds to wait before retrying.', schema: { type: 'integer', minimum: 1 } },
        PreferenceApplied: { description: 'RFC 7240: `wait=N`, the wait that was applied.', schema: { type: 'string' } },
        IdempotentReplayed: {
          description: '`true` when this is the stored answer of an earlier request with the same Idempotency-Key.',
          schema: { type: 'string', enum: ['true'] },
        },
        Traceparent: {
          description: "W3C Trace Context of this request's span: the client's trace id, or a new one. Sent on every answer of the event routes.",
          schema: { type: 'string' },
        },
        ETag: { description: 'Weak validator of the order version: `W/"<event_id>"`.', schema: { type: 'string' } },
        WWWAuthenticate: { description: 'RFC 6750 Bearer challenge.', schema: { type: 'string' } },
      },
      responses: {
        BadRequest: { description: 'Malformed JSON, a body that is not UTF-8, or a malformed Idempotency-Key.', content: problemContent() },
        Unauthorized: {
          description: 'No credential, or one that is not valid (unknown key, bad signature, expired token).',
          headers: { 'WWW-Authenticate': ref('headers', 'WWWAuthenticate') },
          content: problemContent(),
        },
        Forbidden: {
          description: 'The credential lacks the scope this route needs (`required_scope`).',
          headers: { 'WWW-Authenticate': ref('headers', 'WWWAuthenticate') },
          content: problemContent(),
        },
        Conflict: {
          description: 'A request with this Idempotency-Key is still in progress.',
          headers: { 'Retry-After': ref('headers', 'RetryAfter') },
          content: problemContent(),
        },
        ContentTooLarge: {
          description: `Body over ${maxBodyBytes} bytes (declared or streamed), or more than ${maxBatchEvents} events.`,
          content: problemContent(),
        },
        UnsupportedMediaType: {
          description: 'Content-Type is not application/json or application/x-ndjson, or the body has a Content-Encoding (send it uncompressed).',
          content: problemContent(),
        },
        UnprocessableContent: {
          description:
            'An invalid event (nothing of the batch was produced, see `errors`), an empty batch, or an Idempotency-Key reused for a different request.',
          content: problemContent('ValidationProblem'),
        },
        TooManyRequests: {
          description:
            "The credential's rate limit is spent, or the client address's: requests without a valid credential (including refused ones, so keys cannot be guessed at full speed) are counted per address. Nothing was processed; retry after Retry-After.",
          headers: { 'Retry-After': ref('headers', 'RetryAfter') },
          content: problemContent(),
        },
        ServiceUnavailable: {
          description:
            'Kafka failed every event, the producer is at its in-flight bound (backpressure), or the idempotency store or the rate limiter (its Redis) is unreachable. Nothing was accepted; retry after Retry-After.',
          headers: { 'Retry-After': ref('headers', 'RetryAfter') },
          content: problemContent(),
        },
        InternalError: { description: 'An unexpected error.', content: problemContent() },
      },
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key; the gateway stores only its SHA-256.' },
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT (HS256) or API key',
          description: 'An HS256 JWT with `sub`, `tenant`, `exp` and `scope` (space-separated), or an API key.',
        },
        beaconKey: {
          type: 'apiKey',
          in: 'query',
          name: 'key',
          description: 'An API key listed with `"beacon": true` (write scopes only), for `POST /v1/beacon/{topic}` alone.',
        },
      },
    },
  };
}

/** The JSON a client sends for an Avro record: server-set fields left out, defaults optional. */
export function avroToJsonSchema(schema: SchemaObject): JsonSchema {
  return recordJsonSchema(schema, 'request');
}

/**
 * The order as GET answers it: the order event's fields (received_at aside), plus when the
 * read model last changed it.
 */
function orderSchema(registry: Registry): JsonSchema {
  const orders = registry.topics.get('orders')?.latest.schema;
  if (!orders) return { type: 'object' };
  const base = recordJsonSchema(orders, 'response');
  const { received_at: _received, ...properties } = base.properties as Record<string, JsonSchema>;
  properties.updated_at = { type: 'string', format: 'date-time', description: 'When the read model last changed this order.' };
  properties.event_id = { ...properties.event_id, description: 'The event that produced this version.' };
  return { ...base, required: Object.keys(properties), properties };
}

/** The order id as the orders schema allows it (percent-encoded in the path). */
function orderIdSchema(registry: Registry): JsonSchema {
  const orders = registry.topics.get('orders');
  const s = orders ? fieldJsonSchema(orders.latest.schema, orders.key) : undefined;
  return s ?? { type: 'string' };
}
