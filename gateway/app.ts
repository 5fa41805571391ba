/**
 * The gateway core: a runtime-agnostic Hono app built from its dependencies. It knows only
 * web standards; runtime entries (main.ts, main.deno.ts) pass in a producer, read model and the
 * optional stores (idempotency, rate limits, applied-event notifications, metrics).
 */
import { type Context, type Handler, Hono, type MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Codec } from '../schemas/codec.ts';
import type { Registry } from '../schemas/registry.ts';
import { isStorableString } from '../schemas/limits.ts';
import { type FieldProblem, toAvro } from '../schemas/validate.ts';
import type { AppliedEventsSource } from './applied-events.ts';
import { authenticate, type Authenticator, type Credential, forbidden, hasScope } from './auth.ts';
import { type BodyReader, readWebBody } from './body.ts';
import { type HeadersReader, readWebHeaders, type RequestHeaders } from './headers.ts';
import { countArrayElements, countNdjsonLines } from './batch-count.ts';
import { renderDocsPage } from './docs-page.ts';
import { etagMatches } from './etag.ts';
import {
  derivedEventIds,
  fingerprint,
  type IdempotencyOwner,
  type IdempotencyStore,
  readIdempotencyKey,
  REPLAYED_HEADERS,
  type StoredResponse,
} from './idempotency.ts';
import { buildOpenApi } from './openapi.ts';
import { preferredWait } from './prefer.ts';
import { problem } from '../lib/problem.ts';
import { type Delivery, DELIVERY_TIMEOUT_MS, type EventProducer, type OutgoingRecord } from '../lib/kafka/event-producer.ts';
import { type ClientAddress, rateLimit, type RateLimiter, takeForAddress } from './rate-limit.ts';
import type { OrderView, ReadModel } from './read-model.ts';
import { TENANT_HEADER } from '../lib/contract.ts';
import type { LogSink } from '../lib/log-sink.ts';
import { formatTraceparent, startRequestSpan, traceHeaders, TRACEPARENT_HEADER, TRACESTATE_HEADER, tracing } from '../lib/tracing.ts';
import { type SpanContext, SpanStatusCode } from '@opentelemetry/api';

export interface GatewayOptions {
  producer: EventProducer;
  registry: Registry;
  codec: Codec;
  readModel?: ReadModel;
  /** Maps a logical topic (`orders`) to its Kafka name. @defaultValue identity */
  topicName?: (topic: string) => string;
  /** Largest request body accepted, chunked or not. @defaultValue 1 MiB */
  maxBodyBytes?: number;
  /** Reads the body under the limit; runtimes may pass a cheaper one. @defaultValue readWebBody (the web Request) */
  readBody?: BodyReader;
  /** Reads the request headers; runtimes may pass a cheaper one. @defaultValue readWebHeaders (the web Request's Headers) */
  readHeaders?: HeadersReader;
  /** Most events in one batch request. @defaultValue 500 */
  maxBatchEvents?: number;
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number;
  /** Event id generator, for tests. @defaultValue crypto.randomUUID */
  newId?: () => string;
  /** Checks API keys and tokens. @defaultValue none: authentication off, every caller is tenant `default` with every scope */
  authenticator?: Authenticator;
  /** Per-credential request budget. @defaultValue none: no limit */
  rateLimiter?: RateLimiter;
  /** Per-address budget for what is reached without a credential (rate-limit.ts). @defaultValue none: no limit */
  addressLimiter?: RateLimiter;
  /** The client's address, for `addressLimiter` (runtime-specific). @defaultValue none: every caller is `unknown` */
  clientAddress?: ClientAddress;
  /** How long a /readyz answer is reused, so probes cannot load Kafka and PostgreSQL. @defaultValue 1000 */
  readyCacheMs?: number;
  /** Where Idempotency-Key leases and answers live. @defaultValue none: the header is ignored */
  idempotency?: IdempotencyStore;
  /** How long an answered Idempotency-Key is replayed. @defaultValue 24 h */
  idempotencyTtlMs?: number;
  /** How long a request holds its key before another may take it (covers Kafka timeout plus wait). @defaultValue 120 s */
  idempotencyLeaseMs?: number;
  /** Announcements of applied events, for `Prefer: wait`. @defaultValue none: the preference is ignored */
  applied?: AppliedEventsSource;
  /** Cap on `Prefer: wait=N`. @defaultValue 30 */
  maxWaitSeconds?: number;
  /** Largest `Prefer: wait` answer; a larger one is sent without the orders it would embed. @defaultValue 1 MiB */
  maxWaitAnswerBytes?: number;
  /** Largest answer kept for an Idempotency-Key; a larger one is kept without embedded orders or per-event results. @defaultValue 1 MiB */
  maxStoredAnswerBytes?: number;
  /**
   * The longest a request waits for the producer before it is answered 503 anyway. The producer
   * fails records after its delivery timeout, but librdkafka lets a produce request already on the
   * wire run to the broker's ack timeout first; this bounds the answer whatever Kafka does.
   * @defaultValue DELIVERY_TIMEOUT_MS + 2 s
   */
  sendTimeoutMs?: number;
  /** Browser origins allowed by CORS; `['*']` for any. @defaultValue none: no CORS headers */
  corsOrigins?: string[];
  /**
   * Runtime-specific observability, so this file stays free of it: a middleware that sees
   * every request first, and the handler mounted at GET /metrics.
   */
  observe?: { middleware?: MiddlewareHandler; metrics?: Handler };
  /** Where event requests are logged with their trace id (debug; warn for a 5xx). @defaultValue none */
  logger?: LogSink;
}

/**
 * `trace`: the request span's context on the event and beacon routes (lib/tracing.ts);
 * `tracedAnswer`: the answer that already carries its traceparent (answer()).
 */
export type GatewayEnv = { Variables: { credential: Credential; trace?: SpanContext; tracedAnswer?: Response } };

interface RejectedEvent {
  index: number;
  problems: FieldProblem[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Media types of the event route (one event or an array as JSON; NDJSON) and of the beacon route. */
const EVENT_TYPES = ['application/json', 'application/x-ndjson', 'application/jsonl'];
const BEACON_TYPES = ['text/plain', 'application/json'];

export function createApp(options: GatewayOptions): Hono<GatewayEnv> {
  const {
    producer,
    registry,
    codec,
    readModel,
    topicName = (t: string) => t,
    maxBodyBytes = 1024 * 1024,
    readBody = readWebBody,
    readHeaders = readWebHeaders,
    maxBatchEvents = 500,
    now = Date.now,
    newId = () => crypto.randomUUID(),
    authenticator,
    rateLimiter,
    addressLimiter,
    clientAddress,
    readyCacheMs = 1000,
    idempotency,
    idempotencyTtlMs = DAY_MS,
    idempotencyLeaseMs = 120_000,
    applied,
    maxWaitSeconds = 30,
    maxWaitAnswerBytes = 1024 * 1024,
    maxStoredAnswerBytes = 1024 * 1024,
    sendTimeoutMs = DELIVERY_TIMEOUT_MS + 2000,
    corsOrigins,
    observe,
    logger,
  } = options;

  const app = new Hono<GatewayEnv>();

  app.onError((err, c) => {
    // Anything unexpected is a plain 500 without internals; the message stays in the server log.
    console.error(
      JSON.stringify({ level: 'error', msg: 'unhandled gateway error', error: err.message, trace_id: (c.get('trace') as SpanContext | undefined)?.traceId }),
    );
    return problem(c, 500, 'Internal Server Error');
  });
  app.notFound((c) => problem(c, 404, 'Not Found', `no route for ${c.req.method} ${new URL(c.req.url).pathname}`));

  if (observe?.middleware) app.use('*', observe.middleware);
  if (corsOrigins && corsOrigins.length > 0) {
    const corsMiddleware = cors({
      origin: corsOrigins.includes('*') ? '*' : corsOrigins,
      allowMethods: ['GET', 'HEAD', 'POST', 'OPTIONS'],
      allowHeaders: ['Content-Type', 'Authorization', 'X-API-Key', 'Idempotency-Key', 'Prefer', 'If-None-Match', 'traceparent', 'tracestate'],
      exposeHeaders: ['Retry-After', 'Preference-Applied', 'ETag', 'Idempotent-Replayed', 'WWW-Authenticate', 'X-Ferry-Source', 'traceparent'],
      maxAge: 600,
    });
    // Browsers send Origin on every cross-origin request; without one there is nothing to
    // answer, and skipping the middleware keeps server-to-server posts on the fast path.
    app.use('*', async function corsWhenOrigin(c, next) {
      if (!readHeaders(c).get('origin')) return next();
      return corsMiddleware(c, next);
    });
  }

  const spec = buildOpenApi({
    registry,
    maxBodyBytes,
    maxBatchEvents,
    maxWaitSeconds,
    auth: authenticator !== undefined,
    metrics: observe?.metrics !== undefined,
  });
  const docs = renderDocsPage(spec);

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  // Everything but /healthz and authenticated /v1 calls is charged to the client's address.
  if (addressLimiter) {
    app.use('*', async function limitByAddress(c, next) {
      if (c.req.path === '/healthz' || c.req.path.startsWith('/v1/')) return next();
      return (await takeForAddress(c, addressLimiter, clientAddress)) ?? next();
    });
  }

  // One check at a time, its answer reused for readyCacheMs: probes cost Kafka and PostgreSQL nothing more.
  let readiness: { at: number; checks: Promise<Record<string, boolean>> } | undefined;
  const checkReady = async () => {
    const checks: Record<string, boolean> = { kafka: await producer.ready().catch(() => false) };
    if (readModel) checks.read_model = await readModel.ready().catch(() => false);
    return checks;
  };
  app.get('/readyz', async (c) => {
    if (!readiness || Date.now() - readiness.at >= readyCacheMs) readiness = { at: Date.now(), checks: checkReady() };
    const checks = await readiness.checks;
    const ok = Object.values(checks).every(Boolean);
    return c.json({ status: ok ? 'ready' : 'unavailable', checks }, ok ? 200 : 503);
  });

  app.get('/openapi.json', (c) => c.json(spec));
  app.get('/docs', (c) => c.html(docs, 200, { 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'" }));
  if (observe?.metrics) app.get('/metrics', observe.metrics);

  /**
   * Event requests continue the client's trace (or start one): the answer's traceparent names
   * this request's span, and so does every record it produces. Ahead of the credential check,
   * so refusals carry it too.
   */
  const traceRequest: MiddlewareHandler<GatewayEnv> = async function traceRequest(c, next) {
    const route = c.req.path.startsWith('/v1/beacon/') ? '/v1/beacon/{topic}' : '/v1/events/{topic}';
    const topic = c.req.param('topic');
    const headers = readHeaders(c);
    // Attributes only for a span that is recorded.
    const attributes = tracing()
      ? { 'http.request.method': 'POST', 'http.route': route, ...(topic && registry.topics.has(topic) ? { 'ferry.topic': topic } : {}) }
      : undefined;
    const span = startRequestSpan(`POST ${route}`, headers.get(TRACEPARENT_HEADER), headers.get(TRACESTATE_HEADER), attributes);
    const context = span.spanContext();
    c.set('trace', context);
    try {
      await next();
    } finally {
      span.setAttribute('http.response.status_code', c.res.status);
      if (c.res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    // The accepted answers carry it from the start (answer()); setting it afterwards makes the
    // runtime build the answer's Headers object, so that is left to the other answers.
    if (c.res !== c.get('tracedAnswer')) c.res.headers.set(TRACEPARENT_HEADER, formatTraceparent(context));
    if (logger) {
      const line = { route, topic: registry.topics.has(topic ?? '') ? topic : undefined, status: c.res.status, trace_id: context.traceId };
      if (c.res.status >= 500) logger.warn(line, 'events request failed');
      else logger.debug(line, 'events request');
    }
  };
  app.use('/v1/events/:topic', traceRequest);
  app.use('/v1/beacon/:topic', traceRequest);

  // Every /v1 route: who is calling (401), then their budget (429). Beacons carry their key in
  // the URL and must come from a listed origin (see beaconOrigin).
  const fromHeaders = authenticate(authenticator, 'headers', readHeaders);
  const fromBeaconUrl = authenticate(authenticator, 'beacon-url');
  const beaconOrigins = corsOrigins ?? [];
  app.use(
    '/v1/*',
    async function credential(c, next) {
      const answer = c.req.path.startsWith('/v1/beacon/')
        ? (beaconOrigin(c, readHeaders(c), beaconOrigins) ?? (await fromBeaconUrl(c, next)))
        : await fromHeaders(c, next);
      // A refused credential is charged to the address, so keys cannot be guessed at full speed.
      if (addressLimiter && !c.get('credential')) return (await takeForAddress(c, addressLimiter, clientAddress)) ?? answer;
      return answer;
    },
    // Without a limiter there is nothing to charge: no middleware (one fewer step per request).
    ...(rateLimiter ? [rateLimit(rateLimiter)] : []),
  );

  // The checks ahead of ingest are plain calls, not middleware: each middleware step is a
  // closure and a promise more for every request.
  function topicAndScope(c: Context<GatewayEnv>): Response | undefined {
    const topic = c.req.param('topic') ?? '';
    if (!registry.topics.has(topic)) return problem(c, 404, 'Unknown topic', `there is no topic "${topic}"`, { topic });
    if (!hasScope(c.get('credential'), `write:${topic}`)) return forbidden(c, `write:${topic}`);
    return undefined;
  }

  /**
   * The request's media type when its codings are ones the gateway reads and its type is one of
   * `accepted`, else the refusal (`unsupported` says what to send).
   */
  function mediaType(c: Context<GatewayEnv>, headers: RequestHeaders, accepted: readonly string[], unsupported: string): string | Response {
    const refused = codingProblem(c, headers);
    if (refused) return refused;
    const type = mediaTypeOf(headers);
    return accepted.includes(type) ? type : problem(c, 415, 'Unsupported Media Type', unsupported);
  }

  async function ingest(c: Context<GatewayEnv>, requestHeaders: RequestHeaders, type: string): Promise<Response> {
    const topic = c.req.param('topic')!;
    const schemas = registry.topics.get(topic)!;
    const ndjson = type === 'application/x-ndjson' || type === 'application/jsonl';
    const credential = c.get('credential');

    const idempotencyKey = idempotency ? readIdempotencyKey(requestHeaders) : undefined;
    if (idempotencyKey === null) {
      return problem(c, 400, 'Invalid Idempotency-Key', 'Idempotency-Key must be 1 to 255 visible ASCII characters');
    }
    const wait = applied ? preferredWait(requestHeaders, maxWaitSeconds) : undefined;

    const body = await readBody(c, maxBodyBytes);
    if (!body.ok) {
      return body.reason === 'too-large'
        ? problem(c, 413, 'Content Too Large', `the body may be at most ${maxBodyBytes} bytes`)
        : problem(c, 400, 'Bad Request', body.detail);
    }
    const text = body.text;
    // Counted before parsing, so a body of tiny events is refused before it becomes objects.
    if ((ndjson ? countNdjsonLines(text, maxBatchEvents) : countArrayElements(text, maxBatchEvents) ?? 1) > maxBatchEvents) {
      return problem(c, 413, 'Batch Too Large', `a batch may hold at most ${maxBatchEvents} events (MAX_BATCH_EVENTS)`);
    }

    let events: unknown[];
    let single = false;
    try {
      if (ndjson) {
        events = text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown);
      } else {
        const parsed = JSON.parse(text) as unknown;
        single = !Array.isArray(parsed);
        events = Array.isArray(parsed) ? parsed : [parsed];
      }
    } catch (err) {
      return problem(c, 400, 'Malformed JSON', (err as Error).message);
    }
    if (events.length === 0) return problem(c, 422, 'Empty batch', 'send at least one event');
    if (events.length > maxBatchEvents) {
      return problem(c, 413, 'Batch Too Large', `a batch may hold at most ${maxBatchEvents} events`);
    }

    const owner: IdempotencyOwner = { tenant: credential.tenant, credential: credential.id };
    const requestFingerprint = idempotencyKey ? await fingerprint(topic, type, text) : undefined;
    const derivedIds = idempotencyKey ? await derivedEventIds(owner, idempotencyKey, requestFingerprint!, events.length) : undefined;

    // Validation is all-or-nothing: one invalid event rejects the batch and nothing is produced.
    const receivedAt = now();
    const rejected: RejectedEvent[] = [];
    const records: OutgoingRecord[] = [];
    const ids: string[] = [];
    const trace = c.get('trace');
    // One traceparent for the whole request: its events were produced by one span.
    const headers = { [TENANT_HEADER]: credential.tenant, ...(trace ? traceHeaders(trace) : {}) };
    const kafkaTopic = topicName(topic);
    for (let index = 0; index < events.length; index++) {
      const result = toAvro(schemas.latest.schema, events[index], { event_id: derivedIds?.[index] ?? newId(), received_at: receivedAt });
      if (!result.ok) {
        rejected.push({ index, problems: result.problems });
        continue;
      }
      // Once one event is invalid nothing is produced: only the rest's problems matter.
      if (rejected.length > 0) continue;
      const value = result.value;
      ids.push(value.event_id as string);
      records.push({ topic: kafkaTopic, key: String(value[schemas.key]), value: codec.encode(topic, value), headers });
    }
    if (rejected.length > 0) {
      const errors = rejected.flatMap((r) => r.problems.map((p) => ({ index: r.index, field: p.path, reason: p.reason })));
      const first = errors[0]!;
      const detail = single ? `${first.field || 'event'} ${first.reason}` : `${rejected.length} of ${events.length} events are invalid; nothing was accepted`;
      return problem(c, 422, 'Invalid event', detail, { errors: single ? errors.map(({ index: _i, ...e }) => e) : errors });
    }

    if (!idempotency || !idempotencyKey) return produce(c, topic, records, ids, single, wait);

    let begun;
    try {
      begun = await idempotency.begin(owner, idempotencyKey, requestFingerprint!, idempotencyLeaseMs);
    } catch {
      return problem(c, 503, 'Idempotency store unavailable', 'the request was not processed; retry with the same Idempotency-Key', {}, { 'retry-after': '1' });
    }
    switch (begun.state) {
      case 'done':
        return replay(c, begun.response);
      case 'in-flight':
        return problem(c, 409, 'Request in progress', 'a request with this Idempotency-Key is still being processed; retry later', {}, { 'retry-after': '1' });
      case 'mismatch':
        return problem(c, 422, 'Idempotency-Key reused', 'this Idempotency-Key was used for a different request');
    }
    const lease = begun.lease;
    let res: Response;
    try {
      res = await produce(c, topic, records, ids, single, wait);
    } catch (err) {
      await idempotency.release(owner, idempotencyKey, lease).catch(() => {});
      throw err;
    }
    try {
      if (res.status >= 200 && res.status < 300) {
        const headers: Record<string, string> = {};
        for (const name of REPLAYED_HEADERS) {
          const v = res.headers.get(name);
          if (v !== null) headers[name] = v;
        }
        const stored = storable(await res.clone().text(), maxStoredAnswerBytes);
        await idempotency.complete(owner, idempotencyKey, lease, { status: res.status, body: stored, headers }, idempotencyTtlMs);
      } else {
        // Nothing was produced (503): a retry with the same key should run again.
        await idempotency.release(owner, idempotencyKey, lease);
      }
    } catch (err) {
      // The answer stands; a retry after the lease expires would produce again, with the same event ids.
      console.error(
        JSON.stringify({ level: 'warn', msg: 'could not store the idempotent response', error: (err as Error).message, trace_id: c.get('trace')?.traceId }),
      );
    }
    return res;
  }

  app.post('/v1/events/:topic', function events(c) {
    const refused = topicAndScope(c);
    if (refused) return refused;
    const headers = readHeaders(c);
    const type = mediaType(c, headers, EVENT_TYPES, 'send application/json (one event or an array) or application/x-ndjson');
    return typeof type === 'string' ? ingest(c, headers, type) : type;
  });
  // sendBeacon sends a string as text/plain, the one type that needs no preflight; JSON is
  // taken too, for clients that can choose.
  app.post('/v1/beacon/:topic', function beacon(c) {
    const refused = topicAndScope(c);
    if (refused) return refused;
    const headers = readHeaders(c);
    const type = mediaType(c, headers, BEACON_TYPES, 'send the JSON (one event or an array) as text/plain, as navigator.sendBeacon does with a string');
    return typeof type === 'string' ? ingest(c, headers, type) : type;
  });

  app.get('/v1/orders/:order_id', async function getOrder(c) {
    if (!hasScope(c.get('credential'), 'read:orders')) return forbidden(c, 'read:orders');
    if (!readModel) return problem(c, 501, 'Not Implemented', 'this gateway has no read model');
    const id = c.req.param('order_id');
    // No order can have such an id (the gateway refuses it on write); the stores would refuse the query.
    if (!isStorableString(id)) return problem(c, 404, 'Order not found', 'an order id holds no U+0000 and no unpaired surrogate');
    let found;
    try {
      found = await readModel.getOrder(c.get('credential').tenant, id);
    } catch (err) {
      // The cache and the database are stores that come back: tell clients to retry, not that
      // the gateway is broken (a 500 is not retried by most clients and proxies).
      console.error(JSON.stringify({ level: 'warn', msg: 'order read failed', error: (err as Error).message }));
      return problem(c, 503, 'Read model unavailable', 'the order could not be read now; retry later', {}, { 'retry-after': '1' });
    }
    if (!found) return problem(c, 404, 'Order not found', `no order "${id}"`);
    // Weak: the cached and the database copy of one version may differ in formatting, not meaning.
    const etag = `W/"${found.order.event_id}"`;
    const headers = { etag, 'cache-control': 'private, no-cache', 'x-ferry-source': found.source };
    if (etagMatches(readHeaders(c).get('if-none-match') ?? undefined, etag)) return c.body(null, 304, headers);
    return c.json(found.order, 200, headers);
  });

  /** Produces, answers 202/207/503, and with `Prefer: wait` 200 once every event was applied. */
  async function produce(c: Context, topic: string, records: OutgoingRecord[], ids: string[], single: boolean, wait: number | undefined): Promise<Response> {
    const watch = wait !== undefined ? applied!.watch((c.get('credential') as Credential).tenant, ids) : undefined;
    let deliveries: Delivery[];
    try {
      deliveries = await withDeadline(producer.send(records), sendTimeoutMs);
    } catch (err) {
      watch?.cancel();
      return problem(c, 503, 'Kafka unavailable', (err as Error).message, {}, { 'retry-after': '1' });
    }
    const res = respond(c, topic, ids, deliveries, single);
    if (!watch) return res;
    if (res.status !== 202) {
      watch.cancel();
      return res;
    }
    if (!(await watch.wait(wait! * 1000, c.req.raw.signal))) return res;

    const body = (await res.json()) as Record<string, unknown>;
    const credential = c.get('credential') as Credential;
    try {
      // Only a credential that may read the topic gets the read model back: a write-only or
      // beacon key would otherwise read any order of its tenant by posting an event for it.
      if (topic === 'orders' && readModel && hasScope(credential, 'read:orders')) {
        const orderIds = [...new Set(records.map((r) => r.key))];
        const found = await Promise.all(orderIds.map((id) => readModel.getOrder(credential.tenant, id)));
        const orders = found.map((f): OrderView | null => f?.order ?? null);
        if (single) body.order = orders[0];
        else body.orders = orders;
      }
    } catch {
      // Applied, but the read model cannot be read right now: the 202 is still true.
      return c.json(body, 202);
    }
    body.applied = ids;
    let text = JSON.stringify(body);
    if (utf8Length(text) > maxWaitAnswerBytes) {
      // Orders can be large and a batch names many: past the bound the answer says what was
      // applied, and the orders are one GET away.
      delete body.order;
      delete body.orders;
      text = JSON.stringify(body);
    }
    return c.body(text, 200, { 'content-type': 'application/json', 'preference-applied': `wait=${wait}` });
  }

  function replay(c: Context, stored: StoredResponse): Response {
    return c.body(stored.body, stored.status as ContentfulStatusCode, { ...stored.headers, 'idempotent-replayed': 'true' });
  }

  return app;
}

/**
 * Runtimes decode only the chunked transfer coding; anything else would reach us still encoded
 * (RFC 9112 6.1: answer 501). Content codings are not decoded either (RFC 9110 8.4: 415).
 */
function codingProblem(c: Context, headers: RequestHeaders): Response | undefined {
  // Both headers are usually absent: nothing to split or lower-case then. A list of codings
  // (a comma) is never `chunked` alone.
  const transfer = headers.get('transfer-encoding');
  if (transfer !== null && transfer.toLowerCase().trim() !== 'chunked') {
    return problem(c, 501, 'Transfer coding not supported', 'send the body as is or with Transfer-Encoding: chunked only');
  }
  const coding = headers.get('content-encoding')?.trim().toLowerCase() ?? 'identity';
  if (coding !== 'identity' && coding !== '') {
    return problem(c, 415, 'Unsupported Media Type', `Content-Encoding ${coding} is not supported; send the body uncompressed`, {}, {
      'accept-encoding': 'identity',
    });
  }
  return undefined;
}

/**
 * Beacons are sent without CORS (no preflight, the answer unread), so no browser keeps a page of
 * another origin from sending one: the gateway checks the Origin itself. Allowed when
 * CORS_ORIGINS is `*`, or when the request's Origin is listed; refused when the list is empty.
 */
function beaconOrigin(c: Context, headers: RequestHeaders, allowed: string[]): Response | undefined {
  if (allowed.includes('*')) return undefined;
  const origin = headers.get('origin') ?? undefined;
  if (origin !== undefined && allowed.includes(origin)) return undefined;
  if (allowed.length === 0) return problem(c, 403, 'Forbidden', 'beacons are taken only from origins listed in CORS_ORIGINS, and none are listed');
  return problem(
    c,
    403,
    'Forbidden',
    origin === undefined ? 'a beacon must carry the Origin of a page listed in CORS_ORIGINS' : `the origin ${origin} is not listed in CORS_ORIGINS`,
  );
}

/** UTF-8 size of `text` without encoding it. */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * An answer as it is kept for replay, within `maxBytes`: first without the orders a
 * `Prefer: wait` answer embeds, then without per-event results (the counts stay).
 */
export function storable(body: string, maxBytes: number): string {
  if (utf8Length(body) <= maxBytes) return body;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(body) as Record<string, unknown>;
  } catch {
    return JSON.stringify({ detail: 'the original answer was too large to keep (IDEMPOTENCY_MAX_ANSWER_BYTES)' });
  }
  delete parsed.order;
  delete parsed.orders;
  let text = JSON.stringify(parsed);
  if (utf8Length(text) <= maxBytes) return text;
  const { topic, accepted, failed, event_id, partition, offset } = parsed;
  text = JSON.stringify({
    topic,
    accepted,
    failed,
    event_id,
    partition,
    offset,
    detail: 'per-event results were too large to keep for replay (IDEMPOTENCY_MAX_ANSWER_BYTES)',
  });
  return text;
}

/**
 * `work`'s result, or a rejection once `ms` passed. The work goes on: records still in flight may
 * land, which a 503 allows (the client retries; event ids of an Idempotency-Key stay the same).
 */
function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  // One promise and one timer per call (not a race of two promises): this runs for every request.
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`Kafka did not acknowledge within ${Math.round(ms / 1000)} s; the events may or may not have been written`)),
      ms,
    );
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

function mediaTypeOf(headers: RequestHeaders): string {
  return (headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

function respond(
  c: Context,
  topic: string,
  ids: string[],
  deliveries: Delivery[],
  single: boolean,
): Response {
  if (single) {
    const d = deliveries[0]!;
    if (!d.ok) return problem(c, 503, 'Kafka unavailable', d.error.message, {}, { 'retry-after': '1' });
    return answer(c, { event_id: ids[0]!, topic, partition: d.partition, offset: d.offset }, 202);
  }
  const results = deliveries.map((d, i) =>
    d.ok
      ? { status: 'accepted' as const, event_id: ids[i]!, partition: d.partition, offset: d.offset }
      : { status: 'failed' as const, index: i, event_id: ids[i]!, reason: d.error.message }
  );
  const failed = results.filter((r) => r.status === 'failed').length;
  if (failed === results.length) {
    const first = deliveries[0] as Extract<Delivery, { ok: false }>;
    return problem(c, 503, 'Kafka unavailable', first.error.message, { results }, { 'retry-after': '1' });
  }
  // Some produced, some not: the client retries only the failed ones (by index).
  return answer(c, { topic, accepted: results.length - failed, failed, results }, failed > 0 ? 207 : 202);
}

/**
 * A JSON answer of an event route with its traceparent, its headers a plain object: c.json
 * would make a Headers object for two headers, and so would adding the traceparent afterwards.
 */
function answer(c: Context, body: unknown, status: ContentfulStatusCode): Response {
  const trace = c.get('trace') as SpanContext | undefined;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (trace) headers[TRACEPARENT_HEADER] = formatTraceparent(trace);
  const res = new Response(JSON.stringify(body), { status, headers });
  if (trace) c.set('tracedAnswer', res);
  return res;
}
