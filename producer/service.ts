/**
 * The producer service: the Node process that owns the librdkafka producer for gateways that
 * cannot load it (the Deno/edge gateway). It authenticates the caller with a shared token and
 * accepts only well-formed records: a known topic, a value in the Confluent wire format that
 * decodes with that topic's schema, and a key equal to the value's key field.
 */
import { timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Codec } from '../schemas/codec.ts';
import type { Registry } from '../schemas/registry.ts';
import { fromBase64, type WireDelivery, type WireRecord } from '../lib/kafka/producer-wire.ts';
import { problem } from '../lib/problem.ts';
import type { EventProducer, OutgoingRecord } from '../lib/kafka/event-producer.ts';

export interface ProducerServiceOptions {
  producer: EventProducer;
  registry: Registry;
  codec: Codec;
  /** Required bearer token. */
  token: string;
  /** Prefix of Kafka topic names. @defaultValue empty */
  topicPrefix?: string;
  /** @defaultValue 8 MiB */
  maxBodyBytes?: number;
}

export function createProducerServiceApp(options: ProducerServiceOptions): Hono {
  const { producer, registry, codec, topicPrefix = '', maxBodyBytes = 8 * 1024 * 1024 } = options;
  const expected = new TextEncoder().encode(`Bearer ${options.token}`);
  const app = new Hono();
  app.onError((_err, c) => problem(c, 500, 'Internal Server Error'));

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => ((await producer.ready()) ? c.json({ status: 'ready' }) : c.json({ status: 'unavailable' }, 503)));

  app.post('/v1/records', bodyLimit({ maxSize: maxBodyBytes, onError: (c) => problem(c, 413, 'Content Too Large') }), async (c) => {
    const given = new TextEncoder().encode(c.req.header('authorization') ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return problem(c, 401, 'Unauthorized', 'a valid producer token is required', {}, { 'www-authenticate': 'Bearer' });
    }
    let body: { records?: WireRecord[] };
    try {
      body = (await c.req.json()) as { records?: WireRecord[] };
    } catch {
      return problem(c, 400, 'Malformed JSON');
    }
    if (!Array.isArray(body.records) || body.records.length === 0) return problem(c, 422, 'Invalid request', 'records must be a non-empty array');

    const records: OutgoingRecord[] = [];
    const errors: { index: number; reason: string }[] = [];
    body.records.forEach((r, index) => {
      const reason = check(r);
      if (reason) errors.push({ index, reason });
      else records.push({ topic: r.topic, key: r.key, value: fromBase64(r.value_base64), ...(r.headers ? { headers: r.headers } : {}) });
    });
    if (errors.length) return problem(c, 422, 'Invalid records', `${errors.length} records are not well-formed; nothing was produced`, { errors });

    const deliveries = await producer.send(records);
    return c.json({
      deliveries: deliveries.map((d): WireDelivery => (d.ok ? d : { ok: false, error: d.error.message, retriable: d.error.retriable })),
    });
  });

  function check(r: WireRecord): string | undefined {
    if (typeof r !== 'object' || r === null || typeof r.topic !== 'string' || typeof r.key !== 'string' || typeof r.value_base64 !== 'string') {
      return 'each record needs topic, key and value_base64 strings';
    }
    if (r.headers !== undefined) {
      const h = r.headers as unknown;
      if (typeof h !== 'object' || h === null || Array.isArray(h)) return 'headers must be an object of strings';
      const entries = Object.entries(h);
      if (entries.length > 16) return 'at most 16 headers';
      if (!entries.every(([k, v]) => /^[A-Za-z0-9._-]{1,64}$/.test(k) && typeof v === 'string' && v.length <= 256)) {
        return 'header names must be 1-64 letters, digits, ".", "_" or "-" and values strings of at most 256 characters';
      }
    }
    const logical = r.topic.startsWith(topicPrefix) ? r.topic.slice(topicPrefix.length) : undefined;
    const schemas = logical === undefined ? undefined : registry.topics.get(logical);
    if (!schemas) return `unknown topic ${r.topic}`;
    try {
      const decoded = codec.decode(fromBase64(r.value_base64));
      if (decoded.topic !== logical) return `schema ${decoded.schemaId} is not a schema of ${logical}`;
      if (String(decoded.value[schemas.key]) !== r.key) return `key does not match the value's ${schemas.key}`;
    } catch (err) {
      return `value is not a well-formed record: ${(err as Error).message}`;
    }
    return undefined;
  }

  return app;
}
