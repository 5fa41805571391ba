/**
 * Who may do what, as one table: every route of the Node gateway (with its real stores, and a
 * worker so that `Prefer: wait` is answered) against every kind of credential. Each cell is the
 * expected status; for `Prefer: wait`, whether the 200 carries the order back.
 *
 * API keys travel in X-API-Key (in `?key=` on the beacon routes, the only place those read);
 * tokens in Authorization: Bearer.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { sign } from 'hono/jwt';
import { isolate, type Isolated, orderEvent, type Proc, startGateway, startWorker, waitFor } from './helpers.ts';

const newKey = () => `fry_${randomBytes(24).toString('base64url')}`;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const SECRET = randomBytes(32).toString('hex');
const METRICS_TOKEN = randomBytes(16).toString('hex');
const ORIGIN = 'https://shop.example';
const KEYS = { writer: newKey(), reader: newKey(), beacon: newKey(), other: newKey() };
const API_KEYS = JSON.stringify([
  { id: 'm-writer', tenant: 'acme', sha256: sha(KEYS.writer), scopes: ['write:orders', 'write:page_views'] },
  { id: 'm-reader', tenant: 'acme', sha256: sha(KEYS.reader), scopes: ['read:orders'] },
  { id: 'm-beacon', tenant: 'acme', sha256: sha(KEYS.beacon), scopes: ['write:orders', 'write:page_views'], beacon: true },
  { id: 'm-other', tenant: 'globex', sha256: sha(KEYS.other), scopes: ['write:orders', 'write:page_views', 'read:orders'] },
]);
const ALL_SCOPES = 'write:orders write:page_views read:orders';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
/** A token with every scope for tenant acme, signed (or not) as `alg` says. */
async function token(alg: 'HS256' | 'HS512' | 'none', claims: Record<string, unknown> = {}): Promise<string> {
  const payload = { sub: 'svc-1', tenant: 'acme', scope: ALL_SCOPES, exp: now() + 3600, ...claims };
  return alg === 'none' ? `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.` : sign(payload, SECRET, alg);
}

type Presented = { header?: Record<string, string>; key?: string };
const KINDS = [
  'none',
  'wrong key',
  'write-only',
  'read-only',
  'beacon key',
  'other tenant',
  'expired JWT',
  'JWT alg none',
  'JWT HS512',
  'valid JWT',
  'metrics token',
] as const;
type Kind = (typeof KINDS)[number];
let presented: Record<Kind, Presented>;

/** A status, or for `Prefer: wait`: 200 with the order (`order`) or without it (`no order`). */
type Cell = number | 'order' | 'no order';
type Row = Record<Kind, Cell>;
const row = (cells: Cell[]): Row => Object.fromEntries(KINDS.map((k, i) => [k, cells[i]!])) as Row;

interface Route {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  beacon?: boolean;
  body?: unknown;
  headers?: Record<string, string>;
  expect: Row;
}

/** acme's order, which only the reads use; the writes post m-2, so no other tenant ever has an m-1. */
const seeded = orderEvent('m-1', 'created', '2026-11-23T08:00:00Z');
const order = orderEvent('m-2', 'created', '2026-11-23T08:00:00Z');
const view = { user_id: 'u-1', url: 'https://shop.example/m', occurred_at: '2026-11-23T10:00:00Z' };
const WAIT = { prefer: 'wait=20' };

const ROUTES: Route[] = [
  //                                                                     none wrong write read beacon other  expired none-alg HS512 JWT  metrics
  {
    name: 'POST /v1/events/orders',
    method: 'POST',
    path: '/v1/events/orders',
    body: order,
    expect: row([401, 401, 202, 403, 202, 202, 401, 401, 401, 202, 401]),
  },
  {
    name: 'POST /v1/events/page_views',
    method: 'POST',
    path: '/v1/events/page_views',
    body: view,
    expect: row([401, 401, 202, 403, 202, 202, 401, 401, 401, 202, 401]),
  },
  // Only a key listed as a beacon key, in the URL: not other keys, not tokens in headers.
  {
    name: 'POST /v1/beacon/page_views',
    method: 'POST',
    path: '/v1/beacon/page_views',
    beacon: true,
    body: view,
    expect: row([401, 401, 401, 401, 202, 401, 401, 401, 401, 401, 401]),
  },
  {
    name: 'POST /v1/beacon/orders',
    method: 'POST',
    path: '/v1/beacon/orders',
    beacon: true,
    body: order,
    expect: row([401, 401, 401, 401, 202, 401, 401, 401, 401, 401, 401]),
  },
  // Another tenant's credential with read:orders finds no such order of its own.
  { name: 'GET /v1/orders/m-1', method: 'GET', path: '/v1/orders/m-1', expect: row([401, 401, 403, 200, 403, 404, 401, 401, 401, 200, 401]) },
  // The order comes back only with read:orders; the other tenant gets its own m-2.
  {
    name: 'POST /v1/events/orders, Prefer: wait',
    method: 'POST',
    path: '/v1/events/orders',
    body: order,
    headers: WAIT,
    expect: row([401, 401, 'no order', 403, 'no order', 'order', 401, 401, 401, 'order', 401]),
  },
  {
    name: 'POST /v1/beacon/orders, Prefer: wait',
    method: 'POST',
    path: '/v1/beacon/orders',
    beacon: true,
    body: order,
    headers: WAIT,
    expect: row([401, 401, 401, 401, 'no order', 401, 401, 401, 401, 401, 401]),
  },
  // Metrics take METRICS_TOKEN only: no API credential opens them.
  { name: 'GET /metrics', method: 'GET', path: '/metrics', expect: row([401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 200]) },
  { name: 'GET /readyz', method: 'GET', path: '/readyz', expect: row(KINDS.map(() => 200)) },
  { name: 'GET /healthz', method: 'GET', path: '/healthz', expect: row(KINDS.map(() => 200)) },
  { name: 'GET /openapi.json', method: 'GET', path: '/openapi.json', expect: row(KINDS.map(() => 200)) },
  { name: 'GET /docs', method: 'GET', path: '/docs', expect: row(KINDS.map(() => 200)) },
];

let iso: Isolated;
let gateway: { proc: Proc; url: string };
let worker: Proc;

before(async () => {
  iso = await isolate();
  gateway = await startGateway({ ...iso.env, FERRY_API_KEYS: API_KEYS, FERRY_JWT_SECRET: SECRET, METRICS_TOKEN, CORS_ORIGINS: ORIGIN });
  worker = startWorker(iso.env);
  const bearer = (t: string) => ({ header: { authorization: `Bearer ${t}` } });
  const apiKey = (k: string) => ({ header: { 'x-api-key': k }, key: k });
  presented = {
    'none': {},
    'wrong key': apiKey(newKey()),
    'write-only': apiKey(KEYS.writer),
    'read-only': apiKey(KEYS.reader),
    'beacon key': apiKey(KEYS.beacon),
    'other tenant': apiKey(KEYS.other),
    'expired JWT': bearer(await token('HS256', { exp: now() - 60 })),
    'JWT alg none': bearer(await token('none')),
    'JWT HS512': bearer(await token('HS512')),
    'valid JWT': bearer(await token('HS256')),
    'metrics token': bearer(METRICS_TOKEN),
  };
  // acme's order m-1, for the reads.
  const res = await fetch(`${gateway.url}/v1/events/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': KEYS.writer },
    body: JSON.stringify(seeded),
  });
  assert.equal(res.status, 202);
  await waitFor(async () => (await iso.sql`SELECT 1 FROM orders WHERE tenant = 'acme' AND order_id = 'm-1'`).length === 1, {
    what: 'the worker applying m-1',
    timeoutMs: 90_000,
  });
});

after(async () => {
  await Promise.all([gateway?.proc.stop(), worker?.stop()]);
  await iso?.cleanup();
});

async function call(route: Route, kind: Kind): Promise<Cell> {
  const p = presented[kind];
  const url = new URL(route.path, gateway.url);
  const headers: Record<string, string> = { ...route.headers };
  if (route.beacon) {
    headers.origin = ORIGIN;
    // A beacon route reads its key from the URL only; tokens still go in the header.
    if (p.key) url.searchParams.set('key', p.key);
    else Object.assign(headers, p.header);
  } else {
    Object.assign(headers, p.header);
  }
  if (route.body !== undefined) headers['content-type'] = route.beacon ? 'text/plain' : 'application/json';
  const res = await fetch(url, { method: route.method, headers, ...(route.body !== undefined ? { body: JSON.stringify(route.body) } : {}) });
  const text = await res.text();
  if (route.headers?.prefer && res.status === 200) {
    const body = JSON.parse(text) as Record<string, unknown>;
    assert.ok(Array.isArray(body.applied), `${route.name} as ${kind}: a 200 says what was applied`);
    return 'order' in body ? 'order' : 'no order';
  }
  return res.status;
}

for (const route of ROUTES) {
  test(route.name, async () => {
    const got = {} as Row;
    for (const kind of KINDS) got[kind] = await call(route, kind);
    assert.deepEqual(got, route.expect);
  });
}
