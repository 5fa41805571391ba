/**
 * Step 1 of the request flow with a real browser: headless Chromium, on a page of a shop's
 * origin, sends events to the gateway over HTTPS with fetch, the way a web page does, and reads
 * the order back. What only a browser enforces is checked here: the CORS preflight of a JSON
 * POST with an API key, Idempotency-Key and Prefer headers, which answer headers page scripts
 * may read, and that a page of an origin not allowed never gets its POST sent at all.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { KafkaJS as KafkaJSTypes } from '@confluentinc/kafka-javascript';
import { type Browser, chromium, type Page } from 'playwright-core';
import { freePort, isolate, type Isolated, orderEvent, type Proc, selfSignedCert, startProcess, startWorker, waitFor } from './helpers.ts';

const require = createRequire(import.meta.url);
const { KafkaJS } = require('@confluentinc/kafka-javascript') as { KafkaJS: typeof KafkaJSTypes };

/** Debian's chromium (scripts/install.sh installs it); CHROMIUM_PATH points elsewhere. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const KEY = `shop-${randomBytes(12).toString('hex')}`;
/** The key the shop's pages carry for sendBeacon: listed with "beacon": true, write scope only. */
const BEACON_KEY = `shop-web-${randomBytes(12).toString('hex')}`;
const TENANT = 'shop';

let iso: Isolated;
let dir: string;
let gatewayUrl: string;
let gateway: Proc;
let worker: Proc;
let shop: { server: Server; origin: string };
let elsewhere: { server: Server; origin: string };
let browser: Browser;
let admin: KafkaJSTypes.Admin;

/** A plain page on its own origin (another port is another origin). */
async function pageServer(): Promise<{ server: Server; origin: string }> {
  const port = await freePort();
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>shop</title><p>shop</p>');
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${port}` };
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: scripts/install.sh installs Debian's chromium`);
  iso = await isolate();
  dir = mkdtempSync(join(tmpdir(), 'ferry-browser-'));
  const { cert, key } = selfSignedCert(dir);
  shop = await pageServer();
  elsewhere = await pageServer();

  const port = await freePort();
  gatewayUrl = `https://127.0.0.1:${port}`;
  const apiKeys = [
    { id: 'shop-web', tenant: TENANT, sha256: createHash('sha256').update(KEY).digest('hex'), scopes: ['write:orders', 'write:page_views', 'read:orders'] },
    { id: 'shop-beacon', tenant: TENANT, sha256: createHash('sha256').update(BEACON_KEY).digest('hex'), scopes: ['write:page_views'], beacon: true },
  ];
  gateway = startProcess('gateway/main.ts', {
    ...iso.env,
    GATEWAY_PROCESSES: '1',
    PORT: String(port),
    HOST: '127.0.0.1',
    TLS_CERT_FILE: cert,
    TLS_KEY_FILE: key,
    CORS_ORIGINS: shop.origin,
    FERRY_API_KEYS: JSON.stringify(apiKeys),
  });
  const ca = readFileSync(cert);
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const req = httpsRequest(`${gatewayUrl}/readyz`, { ca }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        });
        req.on('error', () => resolve(false));
        req.end();
      }),
    { what: 'HTTPS gateway ready', timeoutMs: 60_000 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${gateway.output()}`);
  });
  worker = startWorker(iso.env);

  admin = new KafkaJS.Kafka({ kafkaJS: { brokers: iso.env.KAFKA_BROKERS!.split(','), logLevel: KafkaJS.logLevel.ERROR } }).admin();
  await admin.connect();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Browser-wide, not Playwright's per-context ignoreHTTPSErrors: a request sent as a page
    // goes away may open its connection after the page is gone, and the context's setting did
    // not cover it. Without this flag 7 of 30 keepalive fetches and 12 of 30 beacons were dropped;
    // with it 55 of 55 arrived (20 keepalive fetches, 15 more, 20 beacons).
    args: [
      '--headless',
      '--ignore-certificate-errors',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
  await admin?.disconnect();
  const codes = await Promise.all([gateway?.stop(), worker?.stop()]);
  await Promise.all([shop, elsewhere].map((s) => s && new Promise((r) => s.server.close(r))));
  await iso?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(codes, [0, 0], `gateway and worker exit 0 on SIGTERM\n${gateway?.output()}\n${worker?.output()}`);
});

/**
 * A page of `origin`. The gateway's certificate is self-signed for this test, and the browser
 * skips certificate checks (--ignore-certificate-errors); the request is still HTTPS and still
 * cross-origin.
 */
async function openPage(origin: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${origin}/`);
  return page;
}

/** The gateway's request counter lines for a route, from its metrics: what reached it. */
function gatewayRequests(route: string): Promise<string[]> {
  return new Promise((resolve) => {
    const req = httpsRequest(`${gatewayUrl}/metrics`, { rejectUnauthorized: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(text.split('\n').filter((l) => l.startsWith('ferry_gateway_http_requests_total') && l.includes(route))));
    });
    req.on('error', (err) => resolve([`metrics unreadable: ${err.message}`]));
    req.end();
  });
}

/** For failure messages. */
async function gatewaySaw(route: string): Promise<string> {
  return (await gatewayRequests(route)).join('; ') || 'none';
}

/** How many beacons the gateway answered with `status`. */
async function beaconAnswers(status: string): Promise<number> {
  const line = (await gatewayRequests('/v1/beacon')).find((l) => l.includes('method="POST"') && l.includes(`status="${status}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

interface Answer {
  status: number;
  headers: Record<string, string | null>;
  body: unknown;
}

/** fetch() from inside the page; only the headers CORS lets a page script read come back non-null. */
function pageFetch(page: Page, url: string, init: { method?: string; headers?: Record<string, string>; body?: string }, read: string[] = []): Promise<Answer> {
  return page.evaluate(
    async ({ url, init, read }) => {
      const res = await fetch(url, init);
      const text = await res.text();
      const headers: Record<string, string | null> = {};
      for (const name of read) headers[name] = res.headers.get(name);
      return { status: res.status, headers, body: text ? (JSON.parse(text) as unknown) : null };
    },
    { url, init, read },
  );
}

async function produced(): Promise<number> {
  let n = 0;
  for (const t of ['orders', 'page_views']) n += (await admin.fetchTopicOffsets(iso.topic(t))).reduce((s, p) => s + Number(p.high), 0);
  return n;
}

/** The shop's order: its amount is asserted in PostgreSQL. */
const SHOP_ORDER = { customer_id: 'c-browser', amount_cents: 4200, items: [{ sku: 'SKU-B', quantity: 2, price_cents: 2100 }] };
const SHOP_TIME = '2026-12-04T10:00:00Z';

test('a shop page posts an order over HTTPS (preflighted: JSON, API key, Idempotency-Key, Prefer) and gets 200 once the worker applied it', async () => {
  const page = await openPage(shop.origin);
  const init = {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': KEY, 'idempotency-key': 'checkout-b-1', prefer: 'wait=30' },
    body: JSON.stringify(orderEvent('b-1', 'paid', SHOP_TIME, SHOP_ORDER)),
  };
  const first = await pageFetch(page, `${gatewayUrl}/v1/events/orders`, init, ['preference-applied', 'idempotent-replayed']);
  assert.equal(first.status, 200, JSON.stringify(first));
  assert.equal(first.headers['preference-applied'], 'wait=30', 'the page reads Preference-Applied');
  const body = first.body as { event_id: string; order: { status: string; amount_cents: number } };
  assert.match(body.event_id, /^[0-9a-f-]{36}$/);
  assert.equal(body.order.status, 'paid');

  // The row is the browser's tenant's, in PostgreSQL, once.
  const rows = await iso.sql<
    { tenant: string; status: string; amount_cents: string }[]
  >`SELECT tenant, status, amount_cents FROM orders WHERE order_id = 'b-1'`;
  assert.deepEqual(rows.map((r) => ({ ...r, amount_cents: Number(r.amount_cents) })), [{ tenant: TENANT, status: 'paid', amount_cents: 4200 }]);

  // A retry of the page (same Idempotency-Key) is answered from the first answer: nothing is produced again.
  const before = await produced();
  const again = await pageFetch(page, `${gatewayUrl}/v1/events/orders`, init, ['idempotent-replayed']);
  assert.equal(again.status, 200);
  assert.equal(again.headers['idempotent-replayed'], 'true', 'the page reads Idempotent-Replayed');
  assert.equal((again.body as { event_id: string }).event_id, body.event_id);
  assert.equal(await produced(), before);
  const [history] = await iso.sql<{ n: string }[]>`SELECT count(*) AS n FROM order_history WHERE order_id = 'b-1'`;
  assert.equal(Number(history!.n), 1);
  await page.context().close();
});

test('the page reads the order back with its ETag, and a conditional read answers 304', async () => {
  const page = await openPage(shop.origin);
  const posted = await pageFetch(page, `${gatewayUrl}/v1/events/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify(orderEvent('b-2', 'created', SHOP_TIME, SHOP_ORDER)),
  });
  assert.equal(posted.status, 202, JSON.stringify(posted));
  const eventId = (posted.body as { event_id: string }).event_id;

  const read = await waitFor(async () => {
    const r = await pageFetch(page, `${gatewayUrl}/v1/orders/b-2`, { headers: { 'x-api-key': KEY } }, ['etag', 'x-ferry-source']);
    return r.status === 200 ? r : undefined;
  }, { what: 'order b-2 readable from the page' });
  assert.equal((read.body as { status: string }).status, 'created');
  assert.equal(read.headers.etag, `W/"${eventId}"`, 'the page reads the ETag');
  assert.ok(['cache', 'database'].includes(String(read.headers['x-ferry-source'])));

  const unchanged = await pageFetch(page, `${gatewayUrl}/v1/orders/b-2`, { headers: { 'x-api-key': KEY, 'if-none-match': read.headers.etag! } });
  assert.equal(unchanged.status, 304);
  await page.context().close();
});

test('page views as a JSON array: one result per event, and the URL counter counts each once', async () => {
  const page = await openPage(shop.origin);
  const url = `https://shop.example/p/${randomBytes(4).toString('hex')}`;
  const views = [1, 2, 3].map((i) => ({ user_id: `u-b-${i}`, url, occurred_at: '2026-12-04T10:00:00Z' }));
  const answer = await pageFetch(page, `${gatewayUrl}/v1/events/page_views`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': KEY },
    body: JSON.stringify(views),
  });
  assert.equal(answer.status, 202, JSON.stringify(answer));
  const results = (answer.body as { results: { status: string }[] }).results;
  assert.deepEqual(results.map((r) => r.status), ['accepted', 'accepted', 'accepted']);
  await waitFor(async () => Number(await iso.redis.hget(`ferry:${iso.id}:page_views:${TENANT}:by_url`, url)) === 3, {
    what: 'three views of the page counted',
  });
  await page.context().close();
});

test('an invalid event: the page reads 422 with the field and reason, and nothing is produced', async () => {
  const page = await openPage(shop.origin);
  const before = await produced();
  const answer = await pageFetch(page, `${gatewayUrl}/v1/events/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': KEY },
    body: JSON.stringify(orderEvent('b-3', 'created', SHOP_TIME, { ...SHOP_ORDER, amount_cents: -1 })),
  }, ['content-type']);
  assert.equal(answer.status, 422);
  assert.equal(answer.headers['content-type'], 'application/problem+json');
  assert.deepEqual((answer.body as { errors: { field: string }[] }).errors.map((e) => e.field), ['amount_cents']);
  assert.equal(await produced(), before);
  await page.context().close();
});

test('a page of an origin not in CORS_ORIGINS: the preflight is refused, the browser never sends the POST, nothing is produced', async () => {
  const page = await openPage(elsewhere.origin);
  const before = await produced();
  const outcome = await page.evaluate(async ({ url, key }) => {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': key },
        body: JSON.stringify({ user_id: 'u-x', url: 'https://elsewhere.example/', occurred_at: '2026-12-04T10:00:00Z' }),
      });
      return `answered ${res.status}`;
    } catch (err) {
      return `blocked: ${(err as Error).name}`;
    }
  }, { url: `${gatewayUrl}/v1/events/page_views`, key: KEY });
  assert.equal(outcome, 'blocked: TypeError');
  assert.equal(await produced(), before);
  await page.context().close();
});

test('a page view sent with fetch keepalive from pagehide arrives after the page is gone (the way to send on unload with a header key)', async () => {
  const page = await openPage(shop.origin);
  const url = `https://shop.example/leaving/${randomBytes(4).toString('hex')}`;
  // What the browser did with the requests, for the failure message.
  const seen: string[] = [];
  const context = page.context();
  context.on('request', (r) => seen.push(`request ${r.method()} ${r.url()}`));
  context.on('requestfinished', (r) => seen.push(`finished ${r.method()} ${r.url()}`));
  context.on('requestfailed', (r) => seen.push(`failed ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  await page.evaluate(
    ({ endpoint, key, url }) => {
      // Preflighted (the API key header) and started while the document goes away: only
      // keepalive lets it outlive the page.
      addEventListener('pagehide', () => {
        void fetch(endpoint, {
          method: 'POST',
          keepalive: true,
          headers: { 'content-type': 'application/json', 'x-api-key': key },
          body: JSON.stringify({ user_id: 'u-leaving', url, occurred_at: '2026-12-04T10:00:00Z' }),
        });
      });
    },
    { endpoint: `${gatewayUrl}/v1/events/page_views`, key: KEY, url },
  );
  // Leaving for another page of the shop, as a visitor does.
  await page.goto(`${shop.origin}/next`);
  await waitFor(async () => Number(await iso.redis.hget(`ferry:${iso.id}:page_views:${TENANT}:by_url`, url)) === 1, {
    what: 'the view sent while leaving counted',
  }).catch(async (err: Error) => {
    throw new Error(`${err.message}\nbrowser: ${seen.join('; ') || 'no request'}\ngateway: ${await gatewaySaw('/v1/events')}`);
  });
  await context.close();
});

test('a page view sent with navigator.sendBeacon from pagehide arrives, with no request before it: a beacon needs no preflight', async () => {
  const page = await openPage(shop.origin);
  const url = `https://shop.example/beacon/${randomBytes(4).toString('hex')}`;
  const accepted = await page.evaluate(
    ({ endpoint, url }) => {
      addEventListener('pagehide', () => {
        navigator.sendBeacon(endpoint, JSON.stringify({ user_id: 'u-beacon', url, occurred_at: '2026-12-04T10:00:00Z' }));
      });
      return true;
    },
    { endpoint: `${gatewayUrl}/v1/beacon/page_views?key=${BEACON_KEY}`, url },
  );
  assert.equal(accepted, true);
  await page.goto(`${shop.origin}/next`);
  await waitFor(async () => Number(await iso.redis.hget(`ferry:${iso.id}:page_views:${TENANT}:by_url`, url)) === 1, { what: 'the beacon counted' }).catch(
    async (err: Error) => {
      throw new Error(`${err.message}\ngateway: ${await gatewaySaw('/v1/beacon')}`);
    },
  );
  await page.context().close();
});

test('a beacon from a page of an origin not in CORS_ORIGINS reaches the gateway (browsers do not stop beacons) and is refused: nothing produced', async () => {
  const page = await openPage(elsewhere.origin);
  const before = await produced();
  const refusedBefore = await beaconAnswers('403');
  const queued = await page.evaluate(
    ({ endpoint }) =>
      navigator.sendBeacon(endpoint, JSON.stringify({ user_id: 'u-x', url: 'https://elsewhere.example/', occurred_at: '2026-12-04T10:00:00Z' })),
    { endpoint: `${gatewayUrl}/v1/beacon/page_views?key=${BEACON_KEY}` },
  );
  assert.equal(queued, true, 'the browser queued the beacon');
  await waitFor(async () => (await beaconAnswers('403')) > refusedBefore, { what: 'the gateway answering the beacon 403' });
  assert.equal(await produced(), before);
  await page.context().close();
});
