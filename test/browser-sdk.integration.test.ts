/**
 * The browser SDK (clients/browser) in headless Chromium against the real gateway and worker:
 * events tracked on a shop page arrive exactly once through an offline period, a gateway that
 * answers 503 (once after it had produced the batch), a reload with events queued, and a page
 * left right after tracking. "Exactly once" is counted where a duplicate would show: Kafka
 * records produced, the Redis page-view counter (it counts each record), and ClickHouse rows
 * (without FINAL). The demo shop at /demo is driven through a checkout too.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import type { KafkaJS as KafkaJSTypes } from '@confluentinc/kafka-javascript';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { bundle } from '../clients/browser/build.ts';
import type { FerryClient } from '../clients/browser/src/ferry.ts';
import { freePort, isolate, type Isolated, type Proc, startGateway, startWorker, waitFor } from './helpers.ts';

const require = createRequire(import.meta.url);
const { KafkaJS } = require('@confluentinc/kafka-javascript') as { KafkaJS: typeof KafkaJSTypes };

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const KEY = `shop-${randomBytes(12).toString('hex')}`;
const TENANT = 'shop';

let iso: Isolated;
let gatewayUrl: string;
let gateway: Proc;
let worker: Proc;
let shop: { server: Server; origin: string };
let browser: Browser;
let admin: KafkaJSTypes.Admin;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: scripts/install.sh installs Debian's chromium`);
  iso = await isolate();
  const sdk = (await bundle()).code;
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const server = createServer((req, res) => {
    if (req.url === '/ferry.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(sdk);
    } else if (req.url?.startsWith('/next')) {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>elsewhere</title><p>a page without the SDK</p>');
    } else {
      // A shop page with the SDK, short timers so the test does not wait on defaults.
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><title>shop</title><script type="module">
        import { createClient } from '/ferry.js';
        globalThis.ferry = createClient(${JSON.stringify({ url: gatewayUrl, key: KEY, flushMs: 100, backoff: { baseMs: 200, maxMs: 1000 } })});
        globalThis.ferryReady = true;
      </script>`);
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  shop = { server, origin };

  const apiKeys = [{
    id: 'shop-web',
    tenant: TENANT,
    sha256: createHash('sha256').update(KEY).digest('hex'),
    scopes: ['write:orders', 'write:page_views', 'read:orders'],
  }];
  ({ proc: gateway, url: gatewayUrl } = await startGateway({ ...iso.env, CORS_ORIGINS: origin, FERRY_API_KEYS: JSON.stringify(apiKeys) }));
  worker = startWorker(iso.env);
  admin = new KafkaJS.Kafka({ kafkaJS: { brokers: iso.env.KAFKA_BROKERS!.split(','), logLevel: KafkaJS.logLevel.ERROR } }).admin();
  await admin.connect();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  await admin?.disconnect();
  const codes = await Promise.all([gateway?.stop(), worker?.stop()]);
  await new Promise((r) => shop?.server.close(r));
  await iso?.cleanup();
  assert.deepEqual(codes, [0, 0], `gateway and worker exit 0 on SIGTERM\n${gateway?.output()}\n${worker?.output()}`);
});

/** Kafka records in both topics: a duplicate delivery would be one more. */
async function produced(): Promise<number> {
  let n = 0;
  for (const t of ['orders', 'page_views']) n += (await admin.fetchTopicOffsets(iso.topic(t))).reduce((s, p) => s + Number(p.high), 0);
  return n;
}

async function sdkPage(context?: BrowserContext): Promise<Page> {
  const page = await (context ?? (await browser.newContext())).newPage();
  await page.goto(`${shop.origin}/`);
  await page.waitForFunction('globalThis.ferryReady === true');
  return page;
}

const viewUrl = (scenario: string) => `https://shop.example/${scenario}`;

/** Tracks `n` page views of the scenario's URL, one user each. No functions inside: tsx would add __name calls the page lacks. */
function track(page: Page, scenario: string, n: number, from = 0): Promise<void> {
  return page.evaluate(
    ({ url, scenario, n, from }) => {
      const ferry = (globalThis as unknown as { ferry: FerryClient }).ferry;
      for (let i = from; i < from + n; i++) ferry.track('page_views', { user_id: `u-${scenario}-${i}`, url, occurred_at: '2026-12-04T10:00:00Z' });
    },
    { url: viewUrl(scenario), scenario, n, from },
  );
}

const queued = (page: Page) => page.evaluate(() => (globalThis as unknown as { ferry: FerryClient }).ferry.stats().queued);

/** The Redis counter of the scenario's URL: one per Kafka record applied. */
async function counted(scenario: string): Promise<number> {
  return Number(await iso.redis.hget(`ferry:${iso.id}:page_views:${TENANT}:by_url`, viewUrl(scenario)));
}

/** ClickHouse rows (copies included: no FINAL) and distinct event ids of the scenario's users. */
async function clickhouseRows(scenario: string): Promise<{ n: number; ids: number }> {
  const rs = await iso.clickhouse.query({
    query: `SELECT count() AS n, uniqExact(event_id) AS ids FROM events WHERE topic = 'page_views' AND key LIKE 'u-${scenario}-%'`,
    format: 'JSONEachRow',
  });
  const [row] = (await rs.json()) as { n: string; ids: string }[];
  return { n: Number(row!.n), ids: Number(row!.ids) };
}

/** Waits until the scenario's `n` events landed, lets late copies arrive, then asserts each sink holds them once. */
async function assertExactlyOnce(scenario: string, n: number, kafkaBefore: number): Promise<void> {
  await waitFor(async () => (await counted(scenario)) >= n && (await clickhouseRows(scenario)).n >= n, {
    what: `${n} views of ${scenario} applied`,
    timeoutMs: 30_000,
  }).catch(async (err: Error) => {
    throw new Error(`${err.message}: counted ${await counted(scenario)}, kafka +${(await produced()) - kafkaBefore}\n${gateway.output()}`);
  });
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await produced()) - kafkaBefore, n, 'Kafka records produced');
  assert.equal(await counted(scenario), n, 'Redis page-view counter');
  assert.deepEqual(await clickhouseRows(scenario), { n, ids: n }, 'ClickHouse rows');
}

test('offline for a while: events wait in the outbox, nothing is sent, and all arrive once when the browser is back online', async () => {
  const page = await sdkPage();
  const before = await produced();
  await page.context().setOffline(true);
  await track(page, 'offline', 30);
  await new Promise((r) => setTimeout(r, 300));
  await track(page, 'offline', 30, 30);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await queued(page), 60);
  assert.equal(await produced(), before, 'nothing left the browser while offline');
  await page.context().setOffline(false);
  await waitFor(async () => (await queued(page)) === 0, { what: 'the outbox empty once online', timeoutMs: 20_000 });
  await assertExactlyOnce('offline', 60, before);
  await page.context().close();
});

test('a gateway answering 503 with Retry-After (the first after it had produced the batch): the same Idempotency-Key until accepted, never sooner than Retry-After, once in every sink', async () => {
  const page = await sdkPage();
  const before = await produced();
  const attempts: { at: number; key: string | undefined; answered: number }[] = [];
  await page.route(`${gatewayUrl}/v1/events/**`, async (route) => {
    const req = route.request();
    if (req.method() !== 'POST') return route.continue();
    const key = req.headers()['idempotency-key'];
    const at = Date.now();
    const n = attempts.length;
    const unavailable = {
      status: 503,
      headers: {
        'content-type': 'application/problem+json',
        'retry-after': '1',
        'access-control-allow-origin': shop.origin,
        'access-control-expose-headers': 'Retry-After',
      },
      body: '{"title":"Service Unavailable","status":503}',
    };
    if (n === 0) {
      // The gateway took it, but its answer is lost on the way: the page sees a 503.
      const real = await route.fetch();
      attempts.push({ at, key, answered: real.status() });
      return route.fulfill(unavailable);
    }
    if (n < 3) {
      attempts.push({ at, key, answered: 503 });
      return route.fulfill(unavailable);
    }
    attempts.push({ at, key, answered: 0 });
    return route.continue();
  });
  await track(page, 'unavailable', 20);
  await page.evaluate(() => (globalThis as unknown as { ferry: FerryClient }).ferry.flush());
  assert.ok(attempts.length >= 4, JSON.stringify(attempts));
  assert.equal(attempts[0]!.answered, 202, 'the first attempt was produced');
  assert.equal(new Set(attempts.map((a) => a.key)).size, 1, 'one Idempotency-Key for every attempt');
  for (let i = 1; i < 4; i++) {
    assert.ok(attempts[i]!.at - attempts[i - 1]!.at >= 1000, `attempt ${i + 1} came ${attempts[i]!.at - attempts[i - 1]!.at} ms after a Retry-After: 1`);
  }
  await assertExactlyOnce('unavailable', 20, before);
  await page.context().close();
});

test('a reload with events queued: the outbox comes back from localStorage with its keys and is delivered once', async () => {
  const page = await sdkPage();
  const before = await produced();
  await page.context().setOffline(true);
  await track(page, 'reload', 25);
  await new Promise((r) => setTimeout(r, 300));
  // The page itself must load again, so the browser goes online while the gateway stays out of
  // reach (the page has no service worker to load from offline).
  await page.route(`${gatewayUrl}/**`, (route) => route.abort('internetdisconnected'));
  await page.context().setOffline(false);
  await page.reload();
  await page.waitForFunction('globalThis.ferryReady === true');
  assert.equal(await queued(page), 25, 'the events came back from storage');
  await page.unroute(`${gatewayUrl}/**`);
  await waitFor(async () => (await queued(page)) === 0, { what: 'the outbox empty after the gateway came back', timeoutMs: 20_000 });
  await assertExactlyOnce('reload', 25, before);
  await page.context().close();
});

test('a page left right after tracking: keepalive delivers as it goes, and the next page of the site sends the stored batch again under its key without a copy', async () => {
  const page = await sdkPage();
  const context = page.context();
  const before = await produced();
  await track(page, 'unload', 10);
  // Before the 100 ms batch timer: only pagehide can send these.
  await page.goto(`${shop.origin}/next`);
  await waitFor(async () => (await counted('unload')) >= 10, { what: 'the views sent while leaving', timeoutMs: 20_000 });
  // Back on a page with the SDK: the batch is still stored (its answer was never read) and goes again.
  const back = await sdkPage(context);
  await page.close();
  await back.evaluate(() => (globalThis as unknown as { ferry: FerryClient }).ferry.flush());
  assert.equal(await queued(back), 0);
  await assertExactlyOnce('unload', 10, before);
  await context.close();
});

test('the demo shop: a checkout posts the order through the SDK and shows its status from Prefer: wait, the orders page reads it back, and every navigation is a page view', async () => {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${gatewayUrl}/demo?key=${KEY}`);
  await page.click('button[data-add="SKU-MUG"]');
  await page.click('button[data-add="SKU-MUG"]');
  await page.click('button[data-add="SKU-TEA"]');
  await page.click('a[href="#/cart"]');
  await page.click('#checkout');
  await page.waitForSelector('[data-order]');
  const status = await page.textContent('#status');
  assert.match(status ?? '', /^Order o-[0-9a-f-]+: created\.$/);
  const orderId = /Order (o-[0-9a-f-]+)/.exec(status!)![1]!;
  assert.equal((await page.textContent(`[data-order="${orderId}"]`))?.replace('Pay', '').trim(), 'created', 'read back with GET /v1/orders/{id}');
  const rows = await iso.sql<
    { tenant: string; status: string; amount_cents: string }[]
  >`SELECT tenant, status, amount_cents FROM orders WHERE order_id = ${orderId}`;
  assert.deepEqual(rows.map((r) => ({ ...r, amount_cents: Number(r.amount_cents) })), [{ tenant: TENANT, status: 'created', amount_cents: 2 * 900 + 650 }]);

  await page.click(`button[data-pay="${orderId}"]`);
  await page.waitForFunction((id) => document.querySelector(`[data-order="${id}"]`)?.textContent === 'paid', orderId);
  // Views of /demo, /demo#/cart and /demo#/orders (twice: after checkout and after paying).
  const views = await iso.redis.hgetall(`ferry:${iso.id}:page_views:${TENANT}:by_url`);
  await waitFor(async () => {
    const all = await iso.redis.hgetall(`ferry:${iso.id}:page_views:${TENANT}:by_url`);
    return Object.keys(all).filter((u) => u.startsWith(`${gatewayUrl}/demo`)).length >= 3;
  }, { what: `the demo's page views counted (${JSON.stringify(views)})`, timeoutMs: 20_000 });
  await page.context().close();
});

test('a production gateway does not serve the demo', async () => {
  const apiKeys = [{ id: 'p', tenant: TENANT, sha256: createHash('sha256').update(KEY).digest('hex'), scopes: ['write:orders'] }];
  const prod = await startGateway({ ...iso.env, NODE_ENV: 'production', FERRY_API_KEYS: JSON.stringify(apiKeys) });
  try {
    for (const path of ['/demo', '/demo/shop.js', '/demo/ferry.js']) assert.equal((await fetch(`${prod.url}${path}`)).status, 404, path);
  } finally {
    assert.equal(await prod.proc.stop(), 0);
  }
});
