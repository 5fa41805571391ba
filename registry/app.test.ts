import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { loadRegistry } from '../schemas/registry.ts';
import { committedSchema, fixtureRegistry, withFields } from '../test/schema-fixtures.ts';
import { CONTENT_TYPE, createRegistryApp, ErrorCode } from './app.ts';

const app = createRegistryApp({ registry: loadRegistry(), topicPrefix: 'p.' });
const ordersV1 = committedSchema('orders');
const ordersId = loadRegistry().topics.get('orders')!.latest.id;
const pageViewsId = loadRegistry().topics.get('page_views')!.latest.id;
const coupon = { name: 'coupon', type: ['null', 'string'], default: null };

async function get(path: string, status = 200, target = app): Promise<unknown> {
  const res = await target.request(path);
  assert.equal(res.status, status, `${path}: ${await res.clone().text()}`);
  assert.equal(res.headers.get('content-type'), CONTENT_TYPE);
  return res.json();
}

async function postSchema(path: string, schema: unknown, status = 200, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const res = await app.request(path, {
    method: 'POST',
    headers: { 'content-type': CONTENT_TYPE },
    body: JSON.stringify({ schema: typeof schema === 'string' ? schema : JSON.stringify(schema), ...extra }),
  });
  assert.equal(res.status, status, `${path}: ${await res.clone().text()}`);
  assert.equal(res.headers.get('content-type'), CONTENT_TYPE);
  return (await res.json()) as Record<string, unknown>;
}

const error = (code: number) => (body: unknown) => {
  assert.equal((body as { error_code: number }).error_code, code, JSON.stringify(body));
  assert.equal(typeof (body as { message: unknown }).message, 'string');
};

describe('schemas by id', () => {
  it('GET /schemas/ids/{id} answers the schema as a JSON string, whatever subject is named', async () => {
    const body = (await get(`/schemas/ids/${ordersId}`)) as { schema: string };
    assert.deepEqual(Object.keys(body), ['schema']);
    assert.deepEqual(JSON.parse(body.schema), ordersV1);
    assert.deepEqual(await get(`/schemas/ids/${ordersId}?subject=p.orders-value`), body);
    assert.deepEqual(await get(`/schemas/ids/${ordersId}/schema`), ordersV1);
  });

  it('names the subjects and versions of an id', async () => {
    assert.deepEqual(await get(`/schemas/ids/${pageViewsId}/versions`), [{ subject: 'p.page_views-value', version: 1 }]);
    assert.deepEqual(await get(`/schemas/ids/${pageViewsId}/subjects`), ['p.page_views-value']);
  });

  it('40403 for an unknown or malformed id', async () => {
    error(ErrorCode.SCHEMA_NOT_FOUND)(await get('/schemas/ids/999', 404));
    error(ErrorCode.SCHEMA_NOT_FOUND)(await get('/schemas/ids/abc/versions', 404));
  });

  it('lists the schema types and every schema', async () => {
    assert.deepEqual(await get('/schemas/types'), ['AVRO']);
    const all = (await get('/schemas')) as { subject: string; id: number }[];
    assert.deepEqual(all.map((s) => [s.subject, s.id]), [['p.orders-value', ordersId], ['p.page_views-value', pageViewsId]]);
  });
});

describe('subjects', () => {
  it('follow TopicNameStrategy on the prefixed topic names', async () => {
    assert.deepEqual(await get('/subjects'), ['p.orders-value', 'p.page_views-value']);
    assert.deepEqual(await get('/subjects?subjectPrefix=p.page'), ['p.page_views-value']);
    assert.deepEqual(await get('/subjects', 200, createRegistryApp({ registry: loadRegistry() })), ['orders-value', 'page_views-value']);
  });

  it('GET /subjects/{subject}/versions and a version by number, latest or -1', async () => {
    assert.deepEqual(await get('/subjects/p.orders-value/versions'), [1]);
    const v1 = (await get('/subjects/p.orders-value/versions/1')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(v1).sort(), ['id', 'schema', 'subject', 'version']);
    assert.equal(v1.subject, 'p.orders-value');
    assert.equal(v1.id, ordersId);
    assert.equal(v1.version, 1);
    assert.deepEqual(JSON.parse(v1.schema as string), ordersV1);
    assert.deepEqual(await get('/subjects/p.orders-value/versions/latest'), v1);
    assert.deepEqual(await get('/subjects/p.orders-value/versions/-1'), v1);
    assert.deepEqual(await get('/subjects/p.orders-value/versions/latest/schema'), ordersV1);
    assert.deepEqual(await get('/subjects/p.orders-value/versions/1/referencedby'), []);
  });

  it('40401 for an unknown subject (an unprefixed name too), 40402 for an unknown version, 42202 for a malformed one', async () => {
    error(ErrorCode.SUBJECT_NOT_FOUND)(await get('/subjects/orders-value/versions', 404));
    error(ErrorCode.SUBJECT_NOT_FOUND)(await get('/subjects/p.orders-key/versions/latest', 404));
    error(ErrorCode.VERSION_NOT_FOUND)(await get('/subjects/p.orders-value/versions/2', 404));
    error(ErrorCode.INVALID_VERSION)(await get('/subjects/p.orders-value/versions/0', 422));
    error(ErrorCode.INVALID_VERSION)(await get('/subjects/p.orders-value/versions/first', 422));
  });
});

describe('POST /subjects/{subject}: look-up', () => {
  it('finds a registered schema whatever its key order or whitespace', async () => {
    const reordered = JSON.stringify(Object.fromEntries(Object.entries(ordersV1).reverse()), null, 4);
    const found = await postSchema('/subjects/p.orders-value', reordered);
    assert.equal(found.id, ordersId);
    assert.equal(found.version, 1);
    assert.equal(found.subject, 'p.orders-value');
    assert.deepEqual(JSON.parse(found.schema as string), ordersV1);
    assert.equal((await postSchema('/subjects/p.orders-value', ordersV1, 200, { schemaType: 'AVRO' })).id, ordersId);
  });

  it('a different doc is another schema, unless normalize=true', async () => {
    const redocumented = { ...ordersV1, doc: 'An order.' };
    error(ErrorCode.SCHEMA_NOT_FOUND)(await postSchema('/subjects/p.orders-value', redocumented, 404));
    assert.equal((await postSchema('/subjects/p.orders-value?normalize=true', redocumented)).id, ordersId);
  });

  it('40403 for a schema of another subject, 40401 for an unknown subject', async () => {
    error(ErrorCode.SCHEMA_NOT_FOUND)(await postSchema('/subjects/p.page_views-value', ordersV1, 404));
    error(ErrorCode.SUBJECT_NOT_FOUND)(await postSchema('/subjects/p.refunds-value', ordersV1, 404));
  });

  it('42201 for an invalid schema or another schema type, 400 for a body that is not JSON', async () => {
    error(ErrorCode.INVALID_SCHEMA)(await postSchema('/subjects/p.orders-value', '{"type": "record"', 422));
    error(ErrorCode.INVALID_SCHEMA)(await postSchema('/subjects/p.orders-value', { type: 'record', name: 'X', fields: [{ name: 'a', type: 'nope' }] }, 422));
    error(ErrorCode.INVALID_SCHEMA)(await postSchema('/subjects/p.orders-value', 'syntax = "proto3";', 422, { schemaType: 'PROTOBUF' }));
    const res = await app.request('/subjects/p.orders-value', { method: 'POST', body: 'schema' });
    assert.equal(res.status, 400);
    error(400)(await res.json());
  });
});

describe('POST /compatibility/subjects/{subject}/versions/{version}', () => {
  const compatible = withFields(ordersV1, (f) => [...f, coupon]);
  const incompatible = withFields(ordersV1, (f) => [...f, { name: 'coupon', type: 'string' }]);

  it('a new field with a default is compatible, against a version, latest, or every version', async () => {
    for (
      const path of [
        '/compatibility/subjects/p.orders-value/versions/1',
        '/compatibility/subjects/p.orders-value/versions/latest',
        '/compatibility/subjects/p.orders-value/versions',
      ]
    ) {
      assert.deepEqual(await postSchema(path, compatible), { is_compatible: true });
    }
  });

  it('a new field without a default is not; verbose=true names the field', async () => {
    assert.deepEqual(await postSchema('/compatibility/subjects/p.orders-value/versions/latest', incompatible), { is_compatible: false });
    const verbose = await postSchema('/compatibility/subjects/p.orders-value/versions/1?verbose=true', incompatible);
    assert.equal(verbose.is_compatible, false);
    assert.match((verbose.messages as string[])[0]!, /version 1 \(id \d+\): field coupon is new and has no default/);
  });

  it('a subject without versions takes any first schema; a version of it is 40401', async () => {
    assert.deepEqual(await postSchema('/compatibility/subjects/p.refunds-value/versions/latest', incompatible), { is_compatible: true });
    error(ErrorCode.SUBJECT_NOT_FOUND)(await postSchema('/compatibility/subjects/p.refunds-value/versions/1', incompatible, 404));
    error(ErrorCode.VERSION_NOT_FOUND)(await postSchema('/compatibility/subjects/p.orders-value/versions/7', incompatible, 404));
  });
});

describe('config and mode', () => {
  it('BACKWARD_TRANSITIVE for the registry and every subject; read-only', async () => {
    assert.deepEqual(await get('/config'), { compatibilityLevel: 'BACKWARD_TRANSITIVE' });
    assert.deepEqual(await get('/config/p.orders-value'), { compatibilityLevel: 'BACKWARD_TRANSITIVE' });
    assert.deepEqual(await get('/mode'), { mode: 'READONLY' });
    assert.deepEqual(await get('/mode/p.orders-value'), { mode: 'READONLY' });
  });
});

describe('writes are refused', () => {
  it('registering, deleting and changing config or mode answer 405 with a Confluent error saying how to register', async () => {
    const attempts: [string, string, unknown?][] = [
      ['POST', '/subjects/p.orders-value/versions', { schema: JSON.stringify(ordersV1) }],
      ['POST', '/subjects/p.refunds-value/versions', { schema: JSON.stringify(ordersV1) }],
      ['DELETE', '/subjects/p.orders-value'],
      ['DELETE', '/subjects/p.orders-value/versions/1'],
      ['PUT', '/config', { compatibility: 'NONE' }],
      ['PUT', '/config/p.orders-value', { compatibility: 'NONE' }],
      ['DELETE', '/config/p.orders-value'],
      ['PUT', '/mode', { mode: 'READWRITE' }],
    ];
    for (const [method, path, body] of attempts) {
      const res = await app.request(path, { method, headers: { 'content-type': CONTENT_TYPE }, ...(body ? { body: JSON.stringify(body) } : {}) });
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.get('content-type'), CONTENT_TYPE);
      const answer = (await res.json()) as { error_code: number; message: string };
      assert.equal(answer.error_code, 405);
      assert.match(answer.message, /read-only: a schema is registered by committing its \.avsc file/);
    }
    assert.deepEqual(await get('/config'), { compatibilityLevel: 'BACKWARD_TRANSITIVE' });
  });

  it('an unknown path is a Confluent-shaped 404', async () => {
    error(404)(await get('/contexts/nope', 404));
  });
});

describe('with a second version', () => {
  const fixture = fixtureRegistry([{ topic: 'orders', schema: withFields(ordersV1, (f) => [...f, coupon]) }]);
  after(() => fixture.cleanup());
  const evolved = createRegistryApp({ registry: loadRegistry(fixture.dir), topicPrefix: 'p.' });
  const v2Id = fixture.ids[0]!;

  it('lists both, latest is the new one, and the old id still answers', async () => {
    assert.deepEqual(await get('/subjects/p.orders-value/versions', 200, evolved), [1, 2]);
    const latest = (await get('/subjects/p.orders-value/versions/latest', 200, evolved)) as { id: number; version: number };
    assert.deepEqual([latest.id, latest.version], [v2Id, 2]);
    assert.deepEqual(JSON.parse(((await get(`/schemas/ids/${ordersId}`, 200, evolved)) as { schema: string }).schema), ordersV1);
    assert.deepEqual(await get(`/schemas/ids/${v2Id}/versions`, 200, evolved), [{ subject: 'p.orders-value', version: 2 }]);
  });
});
