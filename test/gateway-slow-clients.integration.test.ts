/**
 * Slow senders against the real Node gateway process: headers or a body dribbled a byte at a
 * time (slowloris), idle keep-alive connections and a connection flood are cut off within the
 * configured limits (lib/http-limits.ts), while normal requests keep being served.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { isolate, type Isolated, type Proc, startGateway } from './helpers.ts';

const HEADERS_MS = 1_000;
const REQUEST_MS = 2_000;
const IDLE_MS = 1_000;
const MAX_CONNECTIONS = 30;

let iso: Isolated;
let gateway: { proc: Proc; url: string };
let port: number;

before(async () => {
  iso = await isolate();
  gateway = await startGateway({
    ...iso.env,
    HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_MS),
    HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_MS),
    HTTP_KEEP_ALIVE_TIMEOUT_MS: String(IDLE_MS),
    HTTP_MAX_CONNECTIONS: String(MAX_CONNECTIONS),
  });
  port = Number(new URL(gateway.url).port);
});

after(async () => {
  assert.equal(await gateway?.proc.stop(), 0);
  await iso?.cleanup();
});

/** Opens a socket and resolves once it is connected. */
function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}

/** Resolves with what the server sent and how long after `since` it closed the socket. */
function closedAfter(s: Socket, since: number): Promise<{ ms: number; text: string }> {
  let text = '';
  s.on('data', (b: Buffer) => (text += b.toString('latin1')));
  return new Promise((resolve) => {
    s.on('error', () => {});
    s.on('close', () => resolve({ ms: Date.now() - since, text }));
  });
}

/** Writes `data` a byte every `everyMs` until the socket closes. */
function dribble(s: Socket, data: string, everyMs: number): () => void {
  let i = 0;
  const timer = setInterval(() => {
    if (s.destroyed || i >= data.length) return clearInterval(timer);
    s.write(data[i++]!);
  }, everyMs);
  return () => clearInterval(timer);
}

async function healthy(): Promise<void> {
  const started = Date.now();
  const res = await fetch(`${gateway.url}/healthz`);
  assert.equal(res.status, 200);
  assert.ok(Date.now() - started < 500, 'answered quickly');
}

test('headers dribbled a byte at a time are cut off after HTTP_HEADERS_TIMEOUT_MS, and normal requests are served meanwhile', async () => {
  const s = await open();
  const started = Date.now();
  const closed = closedAfter(s, started);
  s.write('POST /v1/events/orders HTTP/1.1\r\nHost: x\r\n');
  const stop = dribble(s, `X-Slow: ${'a'.repeat(1_000)}\r\n`, 100);
  await healthy();
  const { ms } = await closed;
  stop();
  assert.ok(ms >= HEADERS_MS - 100 && ms < HEADERS_MS + 1_500, `closed after ${ms} ms`);
  await healthy();
});

test('a body dribbled a byte at a time is cut off after HTTP_REQUEST_TIMEOUT_MS with 408', async () => {
  const s = await open();
  const started = Date.now();
  const closed = closedAfter(s, started);
  const body = JSON.stringify({ user_id: 'slow', url: 'https://shop.example/', occurred_at: '2026-11-23T10:00:00Z' });
  s.write(`POST /v1/events/page_views HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length + 5_000}\r\n\r\n`);
  const stop = dribble(s, body + ' '.repeat(5_000), 50);
  await healthy();
  const { ms, text } = await closed;
  stop();
  assert.ok(ms >= REQUEST_MS - 100 && ms < REQUEST_MS + 1_500, `closed after ${ms} ms`);
  assert.match(text, /^HTTP\/1\.1 408 /);
  await healthy();
});

test('an idle keep-alive connection is closed after HTTP_KEEP_ALIVE_TIMEOUT_MS', async () => {
  const s = await open();
  const closed = closedAfter(s, 0);
  s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  let answeredAt = 0;
  s.once('data', () => (answeredAt = Date.now()));
  const { text } = await closed;
  const idle = Date.now() - answeredAt;
  assert.match(text, /^HTTP\/1\.1 200 /);
  assert.ok(idle >= IDLE_MS - 100 && idle < IDLE_MS + 1_500, `closed after ${idle} ms idle`);
});

test('connections past HTTP_MAX_CONNECTIONS are refused at once; once the slow ones are cut, requests are served again', async () => {
  const held = await Promise.all(Array.from({ length: MAX_CONNECTIONS }, () => open()));
  const heldClosed = held.map((s) => closedAfter(s, Date.now()));
  for (const s of held) s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
  const extra = await open();
  const extraClosed = await closedAfter(extra, Date.now());
  assert.ok(extraClosed.ms < 500, `the connection past the cap was closed after ${extraClosed.ms} ms`);
  assert.equal(extraClosed.text, '', 'and got no answer');
  await Promise.all(heldClosed);
  await healthy();
});
