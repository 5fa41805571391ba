/**
 * A read-only Confluent Schema Registry API over Ferry's own registry (schemas/), so standard
 * consumers (KafkaAvroDeserializer, Confluent's Node client, Kafka UI) can decode the records:
 * they carry the Confluent wire format, and the id in each resolves here.
 *
 * Subjects follow TopicNameStrategy on the deployment's Kafka topic names:
 * `<FERRY_TOPIC_PREFIX><topic>-value`. Keys are plain UTF-8 strings, so there are no `-key`
 * subjects. Registering, deleting and changing the compatibility level are refused (405): a
 * schema is registered by committing its `.avsc` file and registry.json entry, and the loader
 * checks it against every earlier version (schemas/compatibility.ts).
 */
import avro from 'avsc';
import { type Context, Hono } from 'hono';
import { backwardIncompatibility, COMPATIBILITY_LEVEL } from '../schemas/compatibility.ts';
import type { Registry, SchemaVersion } from '../schemas/registry.ts';

export const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

/** Confluent's error codes, so clients report the same errors they would against Confluent. */
export const ErrorCode = {
  SUBJECT_NOT_FOUND: 40401,
  VERSION_NOT_FOUND: 40402,
  SCHEMA_NOT_FOUND: 40403,
  INVALID_SCHEMA: 42201,
  INVALID_VERSION: 42202,
} as const;

export interface RegistryAppOptions {
  registry: Registry;
  /** Prefix of the deployment's Kafka topic names (FERRY_TOPIC_PREFIX); subjects carry it too. @defaultValue empty */
  topicPrefix?: string;
}

interface Registered extends SchemaVersion {
  subject: string;
  /** The schema as served: compact JSON of the .avsc file. */
  text: string;
  /** For look-ups: the JSON with sorted keys, and avsc's fingerprint of the parsing canonical form. */
  exact: string;
  canonical: string;
}

/** TopicNameStrategy for record values. */
export function subjectOf(topicPrefix: string, topic: string): string {
  return `${topicPrefix}${topic}-value`;
}

const READ_ONLY =
  "Ferry's schema registry is read-only: a schema is registered by committing its .avsc file and registry.json entry (schemas/), which is checked against every earlier version of the subject";

export function createRegistryApp(options: RegistryAppOptions): Hono {
  const { registry, topicPrefix = '' } = options;
  const subjects = new Map<string, Registered[]>();
  const byId = new Map<number, Registered>();
  for (const [topic, entry] of registry.topics) {
    const subject = subjectOf(topicPrefix, topic);
    const versions = entry.versions.map((v) => {
      const r: Registered = {
        ...v,
        subject,
        text: JSON.stringify(v.schema),
        exact: sortedJson(v.schema),
        canonical: fingerprint(avro.Type.forSchema(v.schema as avro.Schema)),
      };
      byId.set(v.id, r);
      return r;
    });
    subjects.set(subject, versions);
  }
  const subjectNames = [...subjects.keys()].sort();

  const app = new Hono();
  const json = (c: Context, body: unknown, status: 200 = 200) => c.body(JSON.stringify(body), status, { 'content-type': CONTENT_TYPE });
  const fail = (c: Context, status: 400 | 404 | 405 | 422 | 500, code: number, message: string) =>
    c.body(JSON.stringify({ error_code: code, message }), status, { 'content-type': CONTENT_TYPE });

  app.onError((err, c) => {
    console.error(JSON.stringify({ level: 'error', msg: 'unhandled registry error', error: err.message }));
    return fail(c, 500, 50001, 'Error in the backend data store');
  });
  app.notFound((c) => fail(c, 404, 404, 'HTTP 404 Not Found'));

  const subjectOr404 = (c: Context): Registered[] | Response =>
    subjects.get(c.req.param('subject')!) ?? fail(c, 404, ErrorCode.SUBJECT_NOT_FOUND, `Subject '${c.req.param('subject')}' not found.`);
  const versionOr404 = (c: Context, versions: Registered[]): Registered | Response => {
    const raw = c.req.param('version')!;
    if (raw === 'latest' || raw === '-1') return versions.at(-1)!;
    const n = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
    if (!(n >= 1 && n <= 0x7fffffff)) {
      return fail(
        c,
        422,
        ErrorCode.INVALID_VERSION,
        `The specified version '${raw}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`,
      );
    }
    return versions.find((v) => v.version === n) ?? fail(c, 404, ErrorCode.VERSION_NOT_FOUND, `Version ${raw} not found.`);
  };
  const idOr404 = (c: Context): Registered | Response => {
    const raw = c.req.param('id')!;
    return (/^\d{1,10}$/.test(raw) ? byId.get(Number(raw)) : undefined) ?? fail(c, 404, ErrorCode.SCHEMA_NOT_FOUND, `Schema ${raw} not found`);
  };
  const described = (r: Registered) => ({ subject: r.subject, version: r.version, id: r.id, schema: r.text });

  /** The schema a request posts (`{"schema": "..."}`), parsed, or the error to answer. */
  async function postedSchema(c: Context): Promise<{ type: avro.Type; parsed: unknown } | Response> {
    let body: { schema?: unknown; schemaType?: unknown };
    try {
      body = (await c.req.json()) as typeof body;
    } catch {
      return fail(c, 400, 400, 'Malformed JSON');
    }
    if (body?.schemaType !== undefined && body.schemaType !== 'AVRO') {
      return fail(c, 422, ErrorCode.INVALID_SCHEMA, `Invalid schema: this registry holds AVRO schemas only, not ${String(body.schemaType)}`);
    }
    if (typeof body?.schema !== 'string' || body.schema === '') {
      return fail(c, 422, ErrorCode.INVALID_SCHEMA, 'Invalid schema: "schema" must be the schema as a JSON string');
    }
    try {
      const parsed = JSON.parse(body.schema) as unknown;
      return { type: avro.Type.forSchema(parsed as avro.Schema), parsed };
    } catch (err) {
      return fail(c, 422, ErrorCode.INVALID_SCHEMA, `Invalid schema: ${(err as Error).message}`);
    }
  }

  app.get('/', (c) => json(c, {}));
  app.get('/healthz', (c) => json(c, { status: 'ok' }));
  app.get('/schemas/types', (c) => json(c, ['AVRO']));
  app.get('/schemas', (c) => json(c, subjectNames.flatMap((s) => subjects.get(s)!.map(described))));

  app.get('/schemas/ids/:id', (c) => {
    const r = idOr404(c);
    // `subject` and `format` may be given; ids are global here, so neither changes the answer.
    return r instanceof Response ? r : json(c, { schema: r.text });
  });
  app.get('/schemas/ids/:id/schema', (c) => {
    const r = idOr404(c);
    return r instanceof Response ? r : json(c, r.schema);
  });
  app.get('/schemas/ids/:id/subjects', (c) => {
    const r = idOr404(c);
    return r instanceof Response ? r : json(c, [r.subject]);
  });
  app.get('/schemas/ids/:id/versions', (c) => {
    const r = idOr404(c);
    return r instanceof Response ? r : json(c, [{ subject: r.subject, version: r.version }]);
  });

  app.get('/subjects', (c) => {
    const prefix = c.req.query('subjectPrefix') ?? '';
    return json(c, subjectNames.filter((s) => s.startsWith(prefix)));
  });
  app.get('/subjects/:subject/versions', (c) => {
    const versions = subjectOr404(c);
    return versions instanceof Response ? versions : json(c, versions.map((v) => v.version));
  });
  app.get('/subjects/:subject/versions/:version', (c) => {
    const versions = subjectOr404(c);
    if (versions instanceof Response) return versions;
    const r = versionOr404(c, versions);
    return r instanceof Response ? r : json(c, described(r));
  });
  app.get('/subjects/:subject/versions/:version/schema', (c) => {
    const versions = subjectOr404(c);
    if (versions instanceof Response) return versions;
    const r = versionOr404(c, versions);
    return r instanceof Response ? r : json(c, r.schema);
  });
  app.get('/subjects/:subject/versions/:version/referencedby', (c) => {
    const versions = subjectOr404(c);
    if (versions instanceof Response) return versions;
    const r = versionOr404(c, versions);
    return r instanceof Response ? r : json(c, []);
  });

  // Look-up: is this schema registered under the subject? `normalize=true` compares Avro's
  // parsing canonical form (docs, defaults and attributes aside); otherwise the JSON, keys in any order.
  app.post('/subjects/:subject', async (c) => {
    const versions = subjectOr404(c);
    if (versions instanceof Response) return versions;
    const posted = await postedSchema(c);
    if (posted instanceof Response) return posted;
    const normalize = c.req.query('normalize') === 'true';
    const key = normalize ? fingerprint(posted.type) : sortedJson(posted.parsed);
    const found = versions.findLast((v) => (normalize ? v.canonical : v.exact) === key);
    return found ? json(c, described(found)) : fail(c, 404, ErrorCode.SCHEMA_NOT_FOUND, 'Schema not found');
  });

  // Compatibility of a candidate schema. With a version number, against that version; with
  // `latest` or none, against every version, as BACKWARD_TRANSITIVE asks.
  const compatibility = async (c: Context) => {
    const versions = subjects.get(c.req.param('subject')!);
    const version = c.req.param('version');
    let against: Registered[];
    if (!versions) {
      // A subject with no versions yet accepts any first schema, as in Confluent's registry.
      if (version !== undefined && version !== 'latest' && version !== '-1') return subjectOr404(c) as Response;
      against = [];
    } else if (version === undefined || version === 'latest' || version === '-1') {
      against = versions;
    } else {
      const r = versionOr404(c, versions);
      if (r instanceof Response) return r;
      against = [r];
    }
    const posted = await postedSchema(c);
    if (posted instanceof Response) return posted;
    const messages = against.flatMap((v) => {
      const problem = backwardIncompatibility(posted.type, v.schema);
      return problem ? [`cannot read records written with version ${v.version} (id ${v.id}): ${problem}`] : [];
    });
    return json(c, c.req.query('verbose') === 'true' ? { is_compatible: messages.length === 0, messages } : { is_compatible: messages.length === 0 });
  };
  app.post('/compatibility/subjects/:subject/versions/:version', compatibility);
  app.post('/compatibility/subjects/:subject/versions', compatibility);

  const level = (c: Context) => json(c, { compatibilityLevel: COMPATIBILITY_LEVEL });
  app.get('/config', level);
  // The level is the same for every subject, including ones not registered yet.
  app.get('/config/:subject', level);
  app.get('/mode', (c) => json(c, { mode: 'READONLY' }));
  app.get('/mode/:subject', (c) => json(c, { mode: 'READONLY' }));

  const readOnly = (c: Context) => {
    c.header('allow', 'GET');
    return fail(c, 405, 405, READ_ONLY);
  };
  app.post('/subjects/:subject/versions', readOnly);
  app.delete('/subjects/:subject', readOnly);
  app.delete('/subjects/:subject/versions/:version', readOnly);
  for (const path of ['/config', '/config/:subject', '/mode', '/mode/:subject']) {
    app.put(path, readOnly);
    app.delete(path, readOnly);
  }

  return app;
}

/** JSON with object keys sorted, so key order and whitespace do not matter. */
function sortedJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) =>
      v && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : v,
  );
}

function fingerprint(type: avro.Type): string {
  return type.fingerprint().toString('hex');
}
