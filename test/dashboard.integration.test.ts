/**
 * The retry dashboard through the real services: a gateway, a worker and a dashboard process.
 * An event that keeps failing (a PostgreSQL trigger) is dead-lettered by the worker, held by the
 * dashboard's replayer, shown without its bytes, and replayed from the dashboard's API into
 * PostgreSQL once the cause is fixed. What is not a repair is refused and changes nothing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { after, before, test } from 'node:test';
import { type Job, Queue } from 'bullmq';
import type { DeadLetter } from '../lib/queues/dead-letters.ts';
import { DeadLetters } from '../lib/queues/dead-letters.ts';
import { KafkaProducer } from '../lib/kafka/producer.ts';
import { connectQueueRedis } from '../lib/queues/redis.ts';
import {
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

const root = new URL('../', import.meta.url).pathname;
let iso: Isolated;
let gateway: { proc: Proc; url: string };
let worker: Proc;
let dashboard: Proc;
let dashboardUrl: string;
let deadLetters: DeadLetters;
let queueRedis: ReturnType<typeof connectQueueRedis>;
let dlqName: string;
const password = `dash-${Math.random().toString(36).slice(2)}-secret`;
const auth = { authorization: `Basic ${Buffer.from(`ferry:${password}`).toString('base64')}` };
const viewerPassword = `view-${Math.random().toString(36).slice(2)}-only`;
const viewer = { authorization: `Basic ${Buffer.from(`viewer:${viewerPassword}`).toString('base64')}` };

before(async () => {
  iso = await isolate();
  gateway = await startGateway(iso.env);
  worker = startWorker({ ...iso.env, WORKER_RETRY_ATTEMPTS: '2', WORKER_RETRY_BACKOFF_MS: '200' });
  const port = await freePort();
  dashboard = startProcess('dashboard/main.ts', {
    ...iso.env,
    DASHBOARD_PORT: String(port),
    DASHBOARD_PASSWORD: password,
    DASHBOARD_READONLY_PASSWORD: viewerPassword,
  });
  dashboardUrl = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${dashboardUrl}/healthz`).catch(() => undefined))?.ok, { what: 'dashboard up', timeoutMs: 30_000 });
  queueRedis = connectQueueRedis(iso.env.QUEUE_REDIS_URL!);
  dlqName = `${iso.env.FERRY_TOPIC_PREFIX}ferry-dead-letters`;
  deadLetters = new DeadLetters(queueRedis, dlqName);
});

after(async () => {
  await Promise.all([gateway?.proc.stop(), worker?.stop(), dashboard?.stop()]);
  await deadLetters?.queue.obliterate({ force: true }).catch(() => {});
  await deadLetters?.close();
  queueRedis?.disconnect();
  await iso?.cleanup();
});

interface BoardJob {
  id: string;
  failedReason?: string;
  /** Newest first. */
  stacktrace: string[];
  attempts: number;
  data: Record<string, unknown>;
  returnValue?: { partition: number; offset: string; replayed_at: string } | null;
}

// The double-submit pair the dashboard's own pages send (bull-board's axios echoes the cookie).
const csrf = { cookie: 'XSRF-TOKEN=test-token-1', 'x-xsrf-token': 'test-token-1' };

async function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${dashboardUrl}${path}`, { ...init, headers: { ...auth, ...csrf, ...(init.headers ?? {}) } });
}

/** A raw request, so the Host header can be anything. */
function raw(
  method: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: import('node:http').IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(dashboardUrl);
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The jobs of one queue in one state, as the dashboard lists them. */
async function boardJobs(queue: string, status: string): Promise<{ jobs: BoardJob[]; text: string }> {
  const res = await api(`/queues/api/queues?activeQueue=${encodeURIComponent(queue)}&status=${status}&page=1&jobsPerPage=50`);
  assert.equal(res.status, 200);
  const text = await res.text();
  const body = JSON.parse(text) as { queues: { name: string; jobs: BoardJob[] }[] };
  return { jobs: body.queues.find((q) => q.name === queue)!.jobs, text };
}

/** The dashboard's Prometheus text (no credentials needed: counts only). */
async function gauges(): Promise<string> {
  const res = await fetch(`${dashboardUrl}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

async function history(orderId: string) {
  return iso.sql<{ status: string }[]>`SELECT status FROM order_history WHERE order_id = ${orderId}`;
}

test('a dead letter is held as failed, shown without its bytes, and replayed from the dashboard into PostgreSQL', async () => {
  await planFailures(iso.sql, 'dash-1', 1_000_000);
  assert.equal((await postJson(`${gateway.url}/v1/events/orders`, orderEvent('dash-1', 'created', '2026-11-25T10:00:00Z'))).status, 202);

  // The worker gives up after two attempts; the replayer holds the letter as failed with its own error.
  const held = await waitFor(async () => (await boardJobs(dlqName, 'failed')).jobs.find((j) => j.data.key === 'dash-1'), {
    what: 'dash-1 held as a failed job on the dashboard',
    timeoutMs: 30_000,
  });
  assert.match(held.failedReason ?? '', /planned failure for order dash-1/);
  assert.match(held.stacktrace[0] ?? '', /planned failure for order dash-1/, "the letter's own stack");
  assert.equal(held.data.step, 'apply');
  assert.equal(held.data.value_base64, undefined, 'no payload on the dashboard');
  const [stored] = (await deadLetters.list({ key: 'dash-1' })) as Job<DeadLetter>[];
  assert.ok(stored!.data.value_base64, 'the queue keeps the bytes for the replay');
  assert.equal(held.data.value_bytes, Buffer.from(stored!.data.value_base64!, 'base64').length);
  const { text } = await boardJobs(dlqName, 'failed');
  assert.ok(!text.includes(stored!.data.value_base64!), 'the record bytes appear nowhere in the answer');
  assert.equal((await history('dash-1')).length, 0, 'nothing applied while it is held');
  assert.match(await gauges(), /^ferry_dead_letters\{state="waiting"\} 1$/m);

  // Fix the cause, then Retry in the dashboard: the record goes back through Kafka to PostgreSQL.
  await liftFailures(iso.sql, 'dash-1');
  const retried = await api(`/queues/api/queues/${encodeURIComponent(dlqName)}/${encodeURIComponent(held.id)}/retry`, { method: 'PUT' });
  assert.equal(retried.status, 204);
  await waitFor(async () => (await history('dash-1')).length === 1, { what: 'replayed dash-1 applied', timeoutMs: 30_000 });
  const replayed = await waitFor(async () => (await boardJobs(dlqName, 'completed')).jobs.find((j) => j.id === held.id), { what: 'replay completed' });
  assert.equal(typeof replayed.returnValue?.partition, 'number');
  assert.match(replayed.returnValue?.offset ?? '', /^\d+$/);
  assert.deepEqual(await deadLetters.list({ key: 'dash-1' }), [], 'no longer waiting for a person');
  const [row] = await iso.sql`SELECT status FROM orders WHERE order_id = 'dash-1'`;
  assert.equal(row!.status, 'created');
  assert.equal((await history('dash-1')).length, 1, 'applied once');
  const after = await gauges();
  assert.match(after, /^ferry_dead_letters\{state="waiting"\} 0$/m);
  assert.match(after, /^ferry_dead_letters\{state="replayed"\} 1$/m);
  assert.match(after, /^ferry_retries_pending\{group="read-model"\} 0$/m);
});

test("a letter that would only come back is not replayed: a topic that is not Ferry's, bytes that do not decode", async () => {
  const q = encodeURIComponent(dlqName);
  const cases = [
    { topic: 'elsewhere', offset: '7', reason: /not replayed: elsewhere is not one of Ferry's topics/ },
    { topic: iso.topic('orders'), offset: '8', reason: /not replayed: .*the worker would dead-letter it again/ },
  ];
  for (const c of cases) {
    await deadLetters.add(
      { topic: c.topic, partition: 0, offset: c.offset, key: Buffer.from('dash-x'), value: Buffer.from('not avro'), timestamp: Date.now() },
      'decode',
      new Error('made by the test'),
    );
    const id = `${c.topic}:0:${c.offset}`;
    await waitFor(async () => (await boardJobs(dlqName, 'failed')).jobs.find((j) => j.id === id), { what: `${id} held` });
    assert.equal((await api(`/queues/api/queues/${q}/${encodeURIComponent(id)}/retry`, { method: 'PUT' })).status, 204);
    const again = await waitFor(async () => (await boardJobs(dlqName, 'failed')).jobs.find((j) => j.id === id && j.attempts >= 2), { what: `${id} refused` });
    assert.match(again.failedReason ?? '', c.reason);
    assert.match(again.stacktrace[0] ?? '', c.reason);
    assert.doesNotMatch(again.stacktrace[0] ?? '', /queues\/replayer|node_modules/, "the reason alone, not the replayer's stack");
    // Clean (discard) is a repair the dashboard allows.
    assert.equal((await api(`/queues/api/queues/${q}/${encodeURIComponent(id)}/clean`, { method: 'PUT' })).status, 204);
    assert.equal(await deadLetters.queue.getJob(id), undefined);
  }
});

test("retries in progress are counted per group and shown without their record's bytes", async () => {
  // A retry due in an hour, shaped like workers/key-retries.ts's, stands for one in progress; removed before it is due.
  const name = `${iso.env.FERRY_TOPIC_PREFIX}ferry-retries-analytics`;
  const retries = new Queue(name, { connection: queueRedis });
  const payload = Buffer.from('{"secret":"do-not-show"}').toString('base64');
  const head = JSON.stringify({ topic: iso.topic('orders'), partition: 3, offset: '4', key: 'dash-r', value_base64: payload });
  const job = await retries.add('retry', { list: 'l', head, errors: [{ at: '2026-11-25T00:00:00Z', error: 'boom' }] }, { delay: 3_600_000 });
  try {
    assert.match(await gauges(), /^ferry_retries_pending\{group="analytics"\} 1$/m);
    const { jobs, text } = await boardJobs(name, 'delayed');
    assert.deepEqual((jobs[0]?.data as { head: unknown }).head, { topic: iso.topic('orders'), partition: 3, offset: '4', key: 'dash-r', value_bytes: 24 });
    assert.ok(!text.includes(payload), 'the record bytes appear nowhere in the answer');
  } finally {
    await job.remove();
    await retries.close();
  }
  assert.match(await gauges(), /^ferry_retries_pending\{group="analytics"\} 0$/m);
});

test('the dlq command refuses the same letters and leaves them, and discards on request', async () => {
  await deadLetters.add(
    { topic: iso.topic('orders'), partition: 2, offset: '5', key: Buffer.from('dash-cli'), value: Buffer.from('not avro'), timestamp: Date.now() },
    'decode',
    new Error('made by the test'),
  );
  const id = `${iso.topic('orders')}:2:5`;
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'cli/dlq.ts', 'replay', '--id', id], {
    cwd: root,
    env: { ...process.env, ...iso.env },
    encoding: 'utf8',
  });
  assert.equal(run.status, 1, run.stderr);
  assert.match(run.stdout, new RegExp(`not replayed ${id.replace(/[.]/g, '\\.')}: .*dead-letter it again`));
  assert.match(run.stdout, /replayed 0, failed 0, refused 1/);
  assert.ok(await deadLetters.queue.getJob(id), 'the letter is still there');

  // Discarding it from the shell, as Clean does on the dashboard.
  const discard = spawnSync(process.execPath, ['--import', 'tsx', 'cli/dlq.ts', 'discard', '--id', id], {
    cwd: root,
    env: { ...process.env, ...iso.env },
    encoding: 'utf8',
  });
  assert.equal(discard.status, 0, discard.stderr);
  assert.match(discard.stdout, /^discarded 1$/m);
  assert.equal(await deadLetters.queue.getJob(id), undefined);
});

test("a replay Kafka does not take leaves the letter in the queue and reports Kafka's reason", async () => {
  await deadLetters.add(
    { topic: iso.topic('orders'), partition: 2, offset: '6', key: Buffer.from('dash-down'), value: Buffer.from('x'), timestamp: Date.now() },
    'apply',
    new Error('made by the test'),
  );
  const id = `${iso.topic('orders')}:2:6`;
  // A producer whose brokers are not there: nothing listens on a free port.
  const unreachable = new KafkaProducer({ brokers: [`127.0.0.1:${await freePort()}`], connectTimeoutMs: 1_500 });
  try {
    const result = await deadLetters.replay(unreachable, { id });
    assert.equal(result.replayed, 0);
    assert.deepEqual(result.failed.map((f) => f.id), [id]);
    assert.match(result.failed[0]!.reason, /could not connect to Kafka/);
    assert.ok(await deadLetters.queue.getJob(id), 'the letter is still there');
  } finally {
    await unreachable.close();
    await (await deadLetters.queue.getJob(id))?.remove();
  }
});

test('the dashboard asks for credentials and refuses everything that is not a repair', async () => {
  assert.equal((await fetch(`${dashboardUrl}/queues/api/queues`)).status, 401);
  assert.equal((await fetch(`${dashboardUrl}/api/console/dead-letters`)).status, 401);
  assert.equal(
    (await fetch(`${dashboardUrl}/queues/api/queues`, { headers: { authorization: `Basic ${Buffer.from('ferry:wrong').toString('base64')}` } })).status,
    401,
  );
  assert.equal((await fetch(`${dashboardUrl}/healthz`)).status, 200);

  await deadLetters.add(
    { topic: iso.topic('orders'), partition: 1, offset: '9', key: Buffer.from('dash-keep'), value: Buffer.from([0]), timestamp: Date.now() },
    'decode',
    new Error('kept'),
  );
  const q = encodeURIComponent(dlqName);
  const id = encodeURIComponent(`${iso.topic('orders')}:1:9`);
  const refused: [string, string, unknown?][] = [
    ['POST', `/queues/api/queues/${q}/add`, { name: 'dead-letter', data: { topic: iso.topic('orders'), value_base64: 'AA==' }, options: {} }],
    ['PATCH', `/queues/api/queues/${q}/${id}/update-data`, { jobData: { topic: iso.topic('page_views') } }],
    ['PUT', `/queues/api/queues/${q}/empty`],
    ['PUT', `/queues/api/queues/${q}/obliterate`],
    ['PUT', `/queues/api/queues/${q}/pause`],
  ];
  for (const [method, path, body] of refused) {
    const res = await api(path, { method, ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
    assert.equal(res.status, 403, `${method} ${path}`);
  }
  // The dashboard's replayer holds each new letter (active for a moment, then failed): wait until it is listed.
  const [kept] = await waitFor(async () => {
    const l = (await deadLetters.list({ key: 'dash-keep' })) as Job<DeadLetter>[];
    return l.length ? l : undefined;
  }, { what: 'the kept letter listed' });
  assert.equal(kept!.data.topic, iso.topic('orders'), 'the letter was not edited');
  assert.equal(kept!.data.value_base64, Buffer.from([0]).toString('base64'));
  assert.equal((await deadLetters.queue.getJobCounts('waiting', 'failed', 'paused')).paused, 0);
  assert.equal(await deadLetters.queue.isPaused(), false);

  // The per-key retry queues are read-only: a retry removed by hand would strand its key.
  const retries = encodeURIComponent(`${iso.env.FERRY_TOPIC_PREFIX}ferry-retries`);
  assert.equal((await api(`/queues/api/queues/${retries}/clean/delayed`, { method: 'PUT' })).status, 405);

  // A malformed escape is the caller's mistake, not the dashboard's.
  const bad = await api('/queues/api/queues?activeQueue=%E0%A4%A&status=failed');
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /malformed percent-escape/);

  // The pages and their assets are served: bull-board under /queues, the console at /.
  const page = await api('/queues');
  assert.equal(page.status, 200);
  const html = await page.text();
  const asset = /(?:src|href)="([^"]*static\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(asset, 'the page names its script');
  assert.equal((await api(asset!.startsWith('/') ? asset! : `/queues/${asset}`)).status, 200);
  const front = await api('/');
  assert.equal(front.status, 200);
  assert.match(await front.text(), /operator's console/);
});

test('the dashboard answers only to its own names, and takes changes only with the CSRF token from its own origin', async () => {
  await deadLetters.add(
    { topic: iso.topic('orders'), partition: 4, offset: '1', key: Buffer.from('dash-csrf'), value: Buffer.from([1]), timestamp: Date.now() },
    'decode',
    new Error('kept'),
  );
  const id = `${iso.topic('orders')}:4:1`;
  await waitFor(async () => (await boardJobs(dlqName, 'failed')).jobs.find((j) => j.id === id), { what: `${id} held` });
  const clean = `/queues/api/queues/${encodeURIComponent(dlqName)}/${encodeURIComponent(id)}/clean`;

  // DNS rebinding: a page at attacker.example whose name now points at 127.0.0.1.
  for (const host of ['attacker.example', 'attacker.example:9400', '127.0.0.1.attacker.example']) {
    assert.equal((await raw('GET', '/queues/api/queues', { ...auth, host })).status, 421, host);
    assert.equal((await raw('PUT', clean, { ...auth, ...csrf, host })).status, 421, host);
  }
  for (const host of ['localhost', `127.0.0.1:${new URL(dashboardUrl).port}`, '[::1]:9400']) {
    assert.equal((await raw('GET', '/queues/api/queues', { ...auth, host })).status, 200, host);
  }
  assert.equal((await raw('GET', '/healthz', { host: 'probe.internal' })).status, 200, '/healthz answers any Host');

  // The page sets the token cookie: SameSite=Strict, readable by the page (bull-board echoes it).
  const page = await fetch(`${dashboardUrl}/`, { headers: auth });
  const cookie = page.headers.get('set-cookie') ?? '';
  assert.match(cookie, /^XSRF-TOKEN=[A-Za-z0-9_-]{32}; Path=\/; SameSite=Strict$/);

  // Changes without the token, with a wrong one, or from another origin: 403, and nothing changes.
  const refused: Record<string, string>[] = [
    {},
    { cookie: 'XSRF-TOKEN=a' },
    { 'x-xsrf-token': 'a' },
    { cookie: 'XSRF-TOKEN=a', 'x-xsrf-token': 'b' },
    { ...csrf, origin: 'http://attacker.example' },
    { ...csrf, origin: 'null' },
  ];
  for (const headers of refused) {
    const res = await fetch(`${dashboardUrl}${clean}`, { method: 'PUT', headers: { ...auth, ...headers } });
    assert.equal(res.status, 403, JSON.stringify(headers));
  }
  assert.ok(await deadLetters.queue.getJob(id), 'the letter is still there');

  // With the token from the page's cookie and the dashboard's own origin: done.
  const token = /XSRF-TOKEN=([^;]+)/.exec(cookie)![1]!;
  const res = await fetch(`${dashboardUrl}${clean}`, {
    method: 'PUT',
    headers: { ...auth, cookie: `XSRF-TOKEN=${token}`, 'x-xsrf-token': token, origin: dashboardUrl },
  });
  assert.equal(res.status, 204);
  assert.equal(await deadLetters.queue.getJob(id), undefined);
});

test('the viewer looks but may not change anything; the admin discards by filter after a dry run, and the audit log says who', async () => {
  await deadLetters.add(
    { topic: iso.topic('orders'), partition: 5, offset: '1', key: Buffer.from('dash-view'), value: Buffer.from('not avro'), timestamp: Date.now() },
    'decode',
    new Error('made by the test'),
  );
  const id = `${iso.topic('orders')}:5:1`;
  await waitFor(async () => (await boardJobs(dlqName, 'failed')).jobs.find((j) => j.id === id), { what: `${id} held` });
  const as = (who: Record<string, string>, path: string, body?: unknown) =>
    fetch(`${dashboardUrl}${path}`, {
      method: body ? 'POST' : 'GET',
      headers: { ...who, ...csrf, 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });

  const listed = await as(viewer, '/api/console/dead-letters?key=dash-view');
  assert.equal(listed.status, 200);
  const { letters } = (await listed.json()) as { letters: { id: string; decode_error?: string }[] };
  assert.deepEqual(letters.map((l) => l.id), [id]);
  assert.match(letters[0]!.decode_error ?? '', /magic byte/);
  assert.deepEqual(await (await as(viewer, '/api/console/me')).json(), { name: 'viewer', role: 'viewer' });
  assert.equal((await as(viewer, '/queues/api/queues')).status, 200);
  for (const path of ['/api/console/dead-letters/dry-run', '/api/console/dead-letters/discard', '/api/console/dead-letters/redrive']) {
    assert.equal((await as(viewer, path, { action: 'discard', filter: { key: 'dash-view' } })).status, 403, path);
  }
  const put = await fetch(`${dashboardUrl}/queues/api/queues/${encodeURIComponent(dlqName)}/${encodeURIComponent(id)}/retry`, {
    method: 'PUT',
    headers: { ...viewer, ...csrf },
  });
  assert.equal(put.status, 403);
  assert.ok(await deadLetters.queue.getJob(id), 'the letter is still there');

  // The admin: a dry run counts, the action needs its token and count back.
  const dry = (await (await as(auth, '/api/console/dead-letters/dry-run', { action: 'discard', filter: { key: 'dash-view' } })).json()) as {
    count: number;
    token: string;
  };
  assert.equal(dry.count, 1);
  assert.equal(
    (await as(auth, '/api/console/dead-letters/discard', { filter: { key: 'dash-view' }, token: dry.token, count: 2 })).status,
    409,
    'a count the dry run did not give',
  );
  const again = (await (await as(auth, '/api/console/dead-letters/dry-run', { action: 'discard', filter: { key: 'dash-view' } })).json()) as {
    count: number;
    token: string;
  };
  const done = await as(auth, '/api/console/dead-letters/discard', { filter: { key: 'dash-view' }, token: again.token, count: again.count });
  assert.deepEqual(await done.json(), { action: 'discard', count: 1, done: 1, skipped: 0 });
  assert.equal(await deadLetters.queue.getJob(id), undefined);
  const { entries } = (await (await as(viewer, '/api/console/audit')).json()) as { entries: { who: string; action: string; filter: unknown; done: number }[] };
  assert.deepEqual(entries[0] && { who: entries[0].who, action: entries[0].action, filter: entries[0].filter, done: entries[0].done }, {
    who: 'ferry',
    action: 'discard',
    filter: { key: 'dash-view' },
    done: 1,
  });
});
