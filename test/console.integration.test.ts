/**
 * The operator's console in headless Chromium against a real gateway, worker and dashboard in an
 * isolation. An order whose PostgreSQL write keeps failing (a trigger) is dead-lettered, shown
 * decoded with its customer redacted, found by the search, redriven by filter once the cause is
 * lifted (applied exactly once) and audited; an applied event's timeline is shown; ClickHouse,
 * reached through a proxy the test cuts, turns its box down and back up. Screenshots of each
 * state go to test/artifacts/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import {
  type CuttableProxy,
  cuttableProxy,
  freePort,
  isolate,
  type Isolated,
  liftFailures,
  orderEvent,
  planFailures,
  postJson,
  type Proc,
  startGateway,
  startProcess,
  startWorker,
  waitFor,
} from './helpers.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const artifacts = new URL('./artifacts/', import.meta.url).pathname;

let iso: Isolated;
let clickhouseProxy: CuttableProxy;
let gateway: { proc: Proc; url: string };
let worker: Proc;
let dashboard: Proc;
let dashboardUrl: string;
let browser: Browser;
let page: Page;
const problems: string[] = [];

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}`);
  mkdirSync(artifacts, { recursive: true });
  iso = await isolate();
  clickhouseProxy = await cuttableProxy(8123);
  const clickhouseUrl = iso.env.CLICKHOUSE_URL!.replace(':8123/', `:${clickhouseProxy.port}/`);
  gateway = await startGateway(iso.env);
  const workerMetricsPort = await freePort();
  worker = startWorker({
    ...iso.env,
    CLICKHOUSE_URL: clickhouseUrl,
    WORKER_METRICS_PORT: String(workerMetricsPort),
    WORKER_RETRY_ATTEMPTS: '2',
    WORKER_RETRY_BACKOFF_MS: '200',
  });
  const port = await freePort();
  dashboard = startProcess('dashboard/main.ts', {
    ...iso.env,
    CLICKHOUSE_URL: clickhouseUrl,
    DASHBOARD_PORT: String(port),
    CONSOLE_GATEWAY_METRICS_URL: `${gateway.url}/metrics`,
    CONSOLE_WORKER_METRICS_URLS: `http://127.0.0.1:${workerMetricsPort}/metrics`,
  });
  dashboardUrl = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${dashboardUrl}/healthz`).catch(() => undefined))?.ok, { what: 'dashboard up', timeoutMs: 30_000 });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await (await browser.newContext({ viewport: { width: 1400, height: 1100 } })).newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (err) => problems.push(err.message));
});

after(async () => {
  await browser?.close();
  await Promise.all([gateway?.proc.stop(), worker?.stop(), dashboard?.stop()]);
  await clickhouseProxy?.close();
  await iso?.cleanup();
});

const shot = (name: string) => page.screenshot({ path: `${artifacts}console-${name}.png`, fullPage: true });

async function boxHealth(id: string): Promise<string | null> {
  return page.locator(`[data-box="${id}"]`).getAttribute('data-health', { timeout: 2000 }).catch(() => null);
}

test('the console: a dead letter decoded and redacted, found, redriven once by filter and audited; a timeline; a sink down and up', async () => {
  await planFailures(iso.sql, 'con-1', 1_000_000);
  const stuck = await postJson(`${gateway.url}/v1/events/orders`, orderEvent('con-1', 'created', '2026-11-25T10:00:00Z', { customer_id: 'c-secret-1' }));
  assert.equal(stuck.status, 202);
  const fine = await postJson(`${gateway.url}/v1/events/orders`, orderEvent('con-2', 'created', '2026-11-25T10:00:00Z'));
  assert.equal(fine.status, 202);
  const fineId = String(fine.json.event_id);

  await page.goto(dashboardUrl);
  await waitFor(async () => (await boxHealth('postgres')) === 'up' && (await boxHealth('read-model')) === 'up', {
    what: 'the pipeline drawn, stores up',
    timeoutMs: 20_000,
  });

  // The letter appears in the table once the worker gave up on it.
  await page.fill('#filters input[name=key]', 'con-1');
  await waitFor(async () => {
    await page.click('#filters button');
    await page.waitForTimeout(300);
    return (await page.locator('tr.letter').count()) === 1;
  }, { what: 'con-1 in the dead-letter table', timeoutMs: 30_000 });
  await page.click('tr.letter');
  const record = await page.locator('pre.record').innerText();
  assert.match(record, /"order_id": "con-1"/);
  assert.match(record, /"customer_id": "\[redacted\]"/);
  assert.ok(!(await page.content()).includes('c-secret-1'), 'the redacted value appears nowhere on the page');
  assert.match(await page.locator('tr.details').innerText(), /planned failure for order con-1/);
  await shot('1-dead-letter');

  // The search finds it in the dead-letter queue.
  await page.fill('#search', 'con-1');
  await page.click('#search-form button');
  await page.waitForSelector('#verdict-text');
  assert.match(await page.locator('#verdict-text').innerText(), /dead-lettered: .*planned failure for order con-1/);
  await shot('2-search-stuck');

  // Lift the cause, redrive by filter after the dry run; it lands exactly once.
  await liftFailures(iso.sql, 'con-1');
  await page.click('button[data-act=redrive][data-by=filter]');
  await page.waitForSelector('#confirm-yes');
  assert.match(await page.locator('#confirm-text').innerText(), /redrive 1 letter/);
  await page.click('#confirm-yes');
  await waitFor(async () => /redrive: 1 done/.test(await page.locator('#action-result').innerText()), { what: 'redrive answered' });
  const history = async () => Number((await iso.sql`SELECT count(*) AS n FROM order_history WHERE order_id = 'con-1'`)[0]!.n);
  await waitFor(async () => (await history()) === 1, { what: 'con-1 applied after the redrive', timeoutMs: 30_000 });
  await page.waitForSelector('tr.audit');
  const audit = await page.locator('tr.audit').first().innerText();
  assert.match(audit, /loopback\s+redrive\s+filter \{"key":"con-1"\}\s+1\s+1\s+0/);
  await page.waitForTimeout(1500);
  assert.equal(await history(), 1, 'applied exactly once');
  await shot('3-redriven-audited');

  // An applied event's timeline.
  await waitFor(async () => Number((await iso.sql`SELECT count(*) AS n FROM order_history WHERE event_id = ${fineId}`)[0]!.n) === 1, { what: 'con-2 applied' });
  await page.fill('#search', fineId);
  await page.click('#search-form button');
  await waitFor(async () => /applied to the read model/.test(await page.locator('#verdict').innerText()), { what: 'the timeline of con-2' });
  const timeline = await page.locator('#timeline').innerText();
  assert.match(timeline, /postgres 1 found/);
  assert.match(timeline, /"applied_at"/);
  assert.match(timeline, /redis 1 found/);
  await shot('4-timeline');

  // ClickHouse unreachable: its box goes down within a few seconds, and up again.
  await clickhouseProxy.cut();
  const cutAt = Date.now();
  await waitFor(async () => (await boxHealth('clickhouse')) === 'down', { what: 'clickhouse down on the page', timeoutMs: 10_000 });
  assert.ok(Date.now() - cutAt < 6000, `down after ${Date.now() - cutAt} ms`);
  await shot('5-clickhouse-down');
  await clickhouseProxy.restore();
  await waitFor(async () => (await boxHealth('clickhouse')) === 'up', { what: 'clickhouse up again', timeoutMs: 15_000 });
  await shot('6-clickhouse-up');

  assert.deepEqual(problems, [], 'no errors in the browser console');
});
