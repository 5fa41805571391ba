/**
 * The production build (scripts/build.ts) runs: the bundled gateway and worker carry an order
 * from HTTP to PostgreSQL, export their spans with the OpenTelemetry SDK bundled in them, and the
 * bundled migrate finds the SQL files from dist/; the worker leaves its code cache. These are the files the Procfile starts, run as
 * it runs them: plain `node`, no TypeScript loader.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { build, builtPath } from '../scripts/build.ts';
import { isolate, type Isolated, onMinute, orderEvent, postJson, type Proc, startGateway, startProcess, startWorker, waitFor } from './helpers.ts';

let iso: Isolated;

before(async () => {
  // The current source, whatever dist/ held before.
  await build();
  iso = await isolate();
});

after(async () => {
  await iso?.cleanup();
});

/** The command lines of `pid`'s children. */
function children(pid: number): string[] {
  return execFileSync('ps', ['--ppid', String(pid), '-o', 'args='], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

test('the built gateway and worker, two processes each, carry an order to PostgreSQL', async () => {
  const gateway = await startGateway({ ...iso.env, GATEWAY_PROCESSES: '2' }, builtPath('gateway/main.ts'));
  const worker: Proc = startWorker({ ...iso.env, WORKER_PROCESSES: '2' }, builtPath('workers/main.ts'));
  try {
    // No TypeScript loader anywhere; the supervisors fork children that run the same bundle.
    for (const [proc, file] of [[gateway.proc, 'dist/gateway/main.js'], [worker, 'dist/workers/main.js']] as const) {
      assert.ok(!proc.child.spawnargs.includes('tsx') && proc.child.spawnargs.at(-1) === file, proc.child.spawnargs.join(' '));
      await waitFor(async () => children(proc.child.pid!).filter((c) => c.includes(file)).length === 2, { what: `two children running ${file}` });
      for (const c of children(proc.child.pid!)) assert.doesNotMatch(c, /tsx/);
    }
    const a = await postJson(`${gateway.url}/v1/events/orders`, orderEvent('built-1', 'paid', onMinute(0), { amount_cents: 4242 }));
    assert.equal(a.status, 202, a.text);
    await waitFor(async () => (await iso.sql`SELECT 1 FROM orders WHERE order_id = 'built-1' AND amount_cents = 4242`).length === 1, {
      what: `order built-1 in PostgreSQL\n${worker.output()}`,
      timeoutMs: 30_000,
    });
  } finally {
    const codes = await Promise.all([gateway.proc.stop(), worker.stop()]);
    assert.deepEqual(codes, [0, 0], `built gateway and worker exit 0 on SIGTERM\n${gateway.proc.output()}\n${worker.output()}`);
  }
  // The worker's processes left V8's code cache of the bundle for the next start (lib/code-cache.ts),
  // which the next test's worker runs from.
  assert.ok(statSync(`${builtPath('workers/main.ts').replace(/\.js$/, '.cjs')}.v8-cache`).size > 100_000, 'the worker wrote its code cache');
});

test('the built gateway and worker export their spans over OTLP, in the client’s trace', async () => {
  // A minimal OTLP/HTTP (JSON) receiver: the service and name of every span, by trace id.
  const spans: { traceId: string; service: string; name: string }[] = [];
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as {
        resourceSpans: {
          resource: { attributes: { key: string; value: { stringValue?: string } }[] };
          scopeSpans: { spans: { traceId: string; name: string }[] }[];
        }[];
      };
      for (const rs of body.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
        for (const ss of rs.scopeSpans) for (const sp of ss.spans) spans.push({ traceId: sp.traceId, service, name: sp.name });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as { port: number }).port}`, OTEL_BSP_SCHEDULE_DELAY: '100' };
  const gateway = await startGateway({ ...iso.env, ...otel }, builtPath('gateway/main.ts'));
  const worker = startWorker({ ...iso.env, ...otel }, builtPath('workers/main.ts'));
  try {
    const traceId = randomBytes(16).toString('hex');
    const a = await postJson(`${gateway.url}/v1/events/orders`, orderEvent('built-traced-1', 'paid', onMinute(0)), {
      traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
    });
    assert.equal(a.status, 202, a.text);
    const seen = () => spans.filter((sp) => sp.traceId === traceId).map((sp) => `${sp.service}: ${sp.name}`);
    await waitFor(async () => seen().includes('ferry-gateway: POST /v1/events/{topic}') && seen().includes('ferry-worker: postgres ferry_apply_orders'), {
      what: "the request span and the worker's sink span in the client's trace",
      timeoutMs: 30_000,
    }).catch((err) => {
      throw new Error(`${(err as Error).message}\n${JSON.stringify(spans)}\n${worker.output()}`);
    });
  } finally {
    const codes = await Promise.all([gateway.proc.stop(), worker.stop()]);
    receiver.close();
    assert.deepEqual(codes, [0, 0], `${gateway.proc.output()}\n${worker.output()}`);
  }
});

test('the built migrate reads the SQL files from the project root', async () => {
  // Forgetting the repeatables' checksums makes migrate apply them again from migrations/.
  await iso.sql`DELETE FROM ferry_schema_repeatables`;
  const proc = startProcess(builtPath('cli/migrate.ts'), iso.env);
  assert.equal(await proc.exited, 0, proc.output());
  assert.match(proc.output(), /postgres \[repeatable\/ferry_apply_orders, [^\]]*repeatable\/ferry_transient_sqlstate\]/);
  assert.match(proc.output(), /topics created: \[none\]/);
});
