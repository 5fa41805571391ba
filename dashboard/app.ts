/**
 * The retry dashboard: bull-board over Ferry's queues, as a plain Hono app. The runtime's
 * static-file handler is passed in (dashboard/main.ts passes @hono/node-server's), the way the
 * gateway's app receives its producer.
 *
 * - The dead-letter queue can be repaired: Retry replays a letter (lib/queues/replayer.ts),
 *   Clean discards it. Adding jobs, editing a letter's data, emptying, pausing or obliterating
 *   the queue are refused: a letter is what the worker gave up on, and only its own record may
 *   go back to Kafka.
 * - The per-key retry queues are shown read-only: removing or promoting a retry by hand would
 *   leave its key's parked events without the job that drains them (workers/key-retries.ts).
 * - Job data is shown without the record's bytes (their size instead): a dashboard is no place
 *   for payloads.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { BeforeHook } from '@bull-board/api/typings/app';
import { HonoAdapter } from '@bull-board/hono';
import type { Queue } from 'bullmq';
import { Hono } from 'hono';
import { basicAuth } from 'hono/basic-auth';
import { letterWithoutPayload } from '../lib/queues/dead-letters.ts';

export interface DashboardOptions {
  /** The dead-letter queue: letters can be replayed (Retry) and discarded (Clean). */
  deadLetters: Queue;
  /** Queues shown read-only: the per-key retry queues. @defaultValue none */
  watched?: Queue[];
  /** The runtime's static-file middleware for bull-board's UI assets. */
  serveStatic: ConstructorParameters<typeof HonoAdapter>[0];
  /** Where the UI is mounted. @defaultValue `/` */
  basePath?: string;
  /** HTTP Basic credentials asked for on every page and API call. @defaultValue none: open (bind to loopback only) */
  credentials?: { username: string; password: string };
  /** Shown in the title bar, e.g. the deployment's topic prefix. @defaultValue `Ferry` */
  title?: string;
  /** GET /metrics: Prometheus text (dashboard/metrics.ts); counts only, so outside the credentials like /healthz. @defaultValue none */
  metrics?: () => Promise<{ contentType: string; body: string }>;
}

/**
 * The bull-board API calls a person may make on the dead-letter queue besides reading:
 * replay (retry one, retry all) and discard (clean one, clean all). Everything else that
 * changes a queue is refused.
 */
const REPAIRS = new Set([
  'put /api/queues/:queueName/:jobId/retry',
  'put /api/queues/:queueName/retry/:queueStatus',
  'put /api/queues/:queueName/:jobId/clean',
  'put /api/queues/:queueName/clean/:queueStatus',
]);

export const allowRepairsOnly: BeforeHook = ({ method, route }) => {
  if (method === 'get' || REPAIRS.has(`${method} ${route}`)) return { allow: true };
  return { allow: false, status: 403, message: 'the dashboard replays and discards dead letters; nothing else may change a queue' };
};

/**
 * Job data as the dashboard shows it: everything but the record's bytes (their size instead).
 * Dead letters carry them as `value_base64`; per-key retry jobs carry the parked record as a
 * JSON string in `head` (workers/key-retries.ts), shown parsed.
 */
export function withoutPayload(data: unknown): unknown {
  if (!data || typeof data !== 'object') return data;
  const d = data as Record<string, unknown>;
  if ('value_base64' in d) return letterWithoutPayload(d as { value_base64: string | null });
  if (typeof d.head === 'string') {
    let head: unknown;
    try {
      head = JSON.parse(d.head);
    } catch {
      return { ...d, head: '(not shown)' };
    }
    return { ...d, head: withoutPayload(head) };
  }
  return data;
}

export function createDashboardApp(options: DashboardOptions): Hono {
  const basePath = (options.basePath ?? '/').replace(/\/+$/, '') || '/';
  const serverAdapter = new HonoAdapter(options.serveStatic).setBasePath(basePath);
  const letters = new BullMQAdapter(options.deadLetters, {
    displayName: 'dead letters',
    description: 'Events the worker gave up on. Retry produces the original record again; Clean discards it.',
  });
  letters.setFormatter('data', withoutPayload);
  const watched = (options.watched ?? []).map((q) => {
    const adapter = new BullMQAdapter(q, { readOnlyMode: true, description: 'Per-key retries in progress (read-only).' });
    adapter.setFormatter('data', withoutPayload);
    return adapter;
  });
  createBullBoard({
    queues: [letters, ...watched],
    serverAdapter,
    options: { uiConfig: { boardTitle: options.title ?? 'Ferry', hideDocsLink: true }, handlerHooks: { before: allowRepairsOnly } },
  });

  const app = new Hono();
  app.get('/healthz', (c) => c.json({ ok: true }));
  const metrics = options.metrics;
  if (metrics) {
    app.get('/metrics', async (c) => {
      const { contentType, body } = await metrics();
      return c.body(body, 200, { 'content-type': contentType });
    });
  }
  if (options.credentials) {
    const { username, password } = options.credentials;
    app.use('*', basicAuth({ username, password, realm: 'Ferry dashboard' }));
  }
  // bull-board decodes query values itself and answers a malformed escape (`%E0%A4%A`) with a
  // 500; it is the caller's mistake, so say so.
  app.use('*', async (c, next) => {
    try {
      decodeURIComponent(new URL(c.req.url).search);
    } catch {
      return c.json({ error: 'the query string has a malformed percent-escape' }, 400);
    }
    return next();
  });
  app.route(basePath, serverAdapter.registerPlugin());
  return app;
}
