/** Shared helpers for integration tests; isolation, processes and polling live in support/. */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { freePort, startProcess } from '../support/processes.ts';
import { waitFor } from '../support/wait-for.ts';
import type { Isolated } from '../support/isolation.ts';
import { type FaultProxy, faultProxy } from '../support/fault-proxy.ts';

export { isolate, type Isolated } from '../support/isolation.ts';
export { freePort, type Proc, startGateway, startProcess, startWorker } from '../support/processes.ts';
export { waitFor } from '../support/wait-for.ts';

const root = new URL('../', import.meta.url).pathname;

/** The Deno edge gateway in front of a Node producer service, both on free ports. */
export interface EdgeStack {
  url: string;
  producerUrl: string;
  token: string;
  /** Everything the edge processes started here printed. */
  output: () => string;
  /** Starts another edge process against the same producer service (env overrides). */
  startEdge: (env: Record<string, string>) => ChildProcess;
  stop: () => Promise<void>;
}

/**
 * Starts the producer service (`iso.env`) and a Deno edge gateway (`iso.env` too, so with
 * REDIS_URL and DATABASE_URL: pass `REDIS_URL: ''` for a fetch-only edge), waiting until both
 * answer. Deno cannot preload exit-with-parent.cjs: `stop()` must run (tests do it in `after`).
 */
export async function startEdgeStack(
  iso: Isolated,
  edgeEnv: Record<string, string> = {},
  token = `edge-test-${randomBytes(12).toString('hex')}`,
): Promise<EdgeStack> {
  const producerPort = await freePort();
  const producerUrl = `http://127.0.0.1:${producerPort}`;
  const producer = startProcess('producer/main.ts', { ...iso.env, PRODUCER_PORT: String(producerPort), PRODUCER_TOKEN: token, HOST: '127.0.0.1' });
  const children: ChildProcess[] = [];
  let out = '';
  const startEdge = (env: Record<string, string>) => {
    const child = spawn('node_modules/deno/deno', ['task', 'edge'], {
      cwd: root,
      env: { ...process.env, ...iso.env, HOST: '127.0.0.1', PRODUCER_URL: producerUrl, PRODUCER_TOKEN: token, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (b: Buffer) => {
      out = (out + b.toString()).slice(-50_000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    children.push(child);
    return child;
  };
  const stop = async () => {
    await Promise.all(
      children.map((c) => (c.exitCode === null && c.signalCode === null
        ? new Promise((resolve) => {
          c.once('exit', resolve);
          c.kill('SIGTERM');
        })
        : undefined)
      ),
    );
    await producer.stop();
  };
  try {
    await waitFor(async () => (await fetch(`${producerUrl}/readyz`)).ok, { what: 'producer service ready', timeoutMs: 60_000 });
    const edgePort = await freePort();
    startEdge({ EDGE_PORT: String(edgePort), ...edgeEnv });
    const url = `http://127.0.0.1:${edgePort}`;
    await waitFor(async () => (await fetch(`${url}/healthz`)).ok, { what: 'edge gateway up', timeoutMs: 60_000 }).catch((err) => {
      throw new Error(`${(err as Error).message}\n${out}\n${producer.output()}`);
    });
    return { url, producerUrl, token, output: () => out, startEdge, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!, i);
      }
    }),
  );
  return results;
}

/** A TCP proxy that a test can cut and restore, to make a real service unreachable (support/fault-proxy.ts). */
export type CuttableProxy = FaultProxy;
export const cuttableProxy = faultProxy;

/** A PostgreSQL trigger that makes the order_history insert of planned orders fail `times` times (a real failure, not a mock). */
/** With `status`, only that order's events with that status fail. */
export async function planFailures(sql: postgres.Sql, orderId: string, times: number, status: string | null = null): Promise<void> {
  await sql.unsafe(`
    CREATE TABLE IF NOT EXISTS test_fail_plan (order_id text PRIMARY KEY, times bigint NOT NULL, seq text NOT NULL, status text);
    CREATE OR REPLACE FUNCTION test_fail_planned() RETURNS trigger AS $$
    DECLARE t bigint; s text;
    BEGIN
      SELECT times, seq INTO t, s FROM test_fail_plan WHERE order_id = NEW.order_id AND (status IS NULL OR status = NEW.status);
      -- nextval is not rolled back with the failing statement, so it counts attempts.
      IF FOUND AND nextval(s) <= t THEN
        RAISE EXCEPTION 'planned failure for order %', NEW.order_id USING ERRCODE = 'P0001';
      END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql;
    DROP TRIGGER IF EXISTS test_fail_planned ON order_history;
    CREATE TRIGGER test_fail_planned BEFORE INSERT ON order_history FOR EACH ROW EXECUTE FUNCTION test_fail_planned();`);
  const seq = `test_fail_seq_${orderId.replace(/[^a-z0-9]/gi, '_')}`;
  await sql.unsafe(`CREATE SEQUENCE IF NOT EXISTS ${seq}`);
  await sql`INSERT INTO test_fail_plan VALUES (${orderId}, ${times}, ${seq}, ${status}) ON CONFLICT (order_id) DO UPDATE SET times = excluded.times, status = excluded.status`;
}

/** Ends a plan: the order's inserts succeed from now on. */
export async function liftFailures(sql: postgres.Sql, orderId: string): Promise<void> {
  await sql`UPDATE test_fail_plan SET times = 0 WHERE order_id = ${orderId}`;
}

/** How many times the planned order's insert was attempted. */
export async function plannedAttempts(sql: postgres.Sql, orderId: string): Promise<number> {
  const seq = `test_fail_seq_${orderId.replace(/[^a-z0-9]/gi, '_')}`;
  const [row] = await sql.unsafe(`SELECT last_value, is_called FROM ${seq}`);
  return row!.is_called ? Number(row!.last_value) : 0;
}

/** A valid order event as a client posts it; `extra` overrides any field. */
export function orderEvent(orderId: string, status: string, occurredAt: string, extra: Record<string, unknown> = {}) {
  return { order_id: orderId, customer_id: 'c-1', status, amount_cents: 500, currency: 'EUR', items: [], occurred_at: occurredAt, ...extra };
}

/** 2026-11-23T10:<minute>:00Z, for events whose order in time matters. */
export function onMinute(minute: number): string {
  return `2026-11-23T10:${String(minute).padStart(2, '0')}:00Z`;
}

/** POSTs `body` as JSON; the answer's status, headers, text and parsed JSON (`{}` when empty). */
export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; text: string; json: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** A self-signed certificate for 127.0.0.1 and localhost, valid a day, written into `dir`. */
export function selfSignedCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: 'ignore' });
  return { cert, key };
}
