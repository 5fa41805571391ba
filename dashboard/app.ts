/**
 * The dashboard: the operator's console at its base path (dashboard/console/) and bull-board over
 * Ferry's queues under `<base>/queues`, as a plain Hono app. The runtime's
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
import { Hono, type MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { letterWithoutPayload } from '../lib/queues/dead-letters.ts';
import { dashboardAuth } from './auth.ts';

export interface DashboardOptions {
  /** The dead-letter queue: letters can be replayed (Retry) and discarded (Clean). */
  deadLetters: Queue;
  /** Queues shown read-only: the per-key retry queues. @defaultValue none */
  watched?: Queue[];
  /** The runtime's static-file middleware for bull-board's UI assets. */
  serveStatic: ConstructorParameters<typeof HonoAdapter>[0];
  /** Where the console is mounted; bull-board is under `<basePath>/queues`. @defaultValue `/` */
  basePath?: string;
  /** HTTP Basic credentials asked for on every page and API call. @defaultValue none: open (bind to loopback only) */
  credentials?: { username: string; password: string };
  /** The password of the read-only user `viewer` (with `credentials` only). @defaultValue none */
  readonlyPassword?: string;
  /** The operator's console (dashboard/console/routes.ts), mounted at the base path. @defaultValue none */
  console?: Hono;
  /** Shown in the title bar, e.g. the deployment's topic prefix. @defaultValue `Ferry` */
  title?: string;
  /** GET /metrics: Prometheus text (dashboard/metrics.ts); counts only, so outside the credentials like /healthz. @defaultValue none */
  metrics?: () => Promise<{ contentType: string; body: string }>;
  /**
   * Host names the dashboard answers to besides localhost, 127.0.0.1 and [::1] (the address it
   * listens on, DASHBOARD_ALLOWED_HOSTS). Any other Host gets 421: a page whose name was rebound
   * to this address would otherwise be same-origin with the dashboard. @defaultValue none
   */
  allowedHosts?: string[];
}

/** The double-submit cookie and header: the names bull-board's bundled axios reads and sends by itself. */
export const CSRF_COOKIE = 'XSRF-TOKEN';
export const CSRF_HEADER = 'x-xsrf-token';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** The host name of a Host header or origin authority, lower-cased, without the port. */
export function hostName(authority: string): string {
  const a = authority.trim().toLowerCase();
  if (a.startsWith('[')) return a.slice(0, a.indexOf(']') + 1);
  const colon = a.indexOf(':');
  return colon < 0 ? a : a.slice(0, colon);
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Host, Origin and CSRF checks. DNS rebinding and cross-site requests are the threat: the
 * dashboard may run without a password on loopback, inside an operator's browser reach.
 * - Host must be a name the dashboard is known by (421 otherwise).
 * - A change (any method but GET/HEAD/OPTIONS) with an Origin must come from the same host, and
 *   every change must carry the XSRF-TOKEN cookie's value in X-XSRF-TOKEN (403 otherwise). The
 *   cookie is SameSite=Strict and readable by the page only; bull-board's UI (axios) echoes it on
 *   same-origin requests with no change to the UI, and a page of another origin can neither read
 *   it nor send that header without a CORS preflight, which the dashboard never grants.
 */
export function requestGuard(allowedHosts: string[], cookiePath: string): MiddlewareHandler {
  const allowed = new Set([...LOOPBACK_NAMES, ...allowedHosts.map(hostName)]);
  return async function requestGuard(c, next) {
    const host = c.req.header('host');
    if (!host || !allowed.has(hostName(host))) {
      return c.json({ error: 'this dashboard does not answer to that Host; add it to DASHBOARD_ALLOWED_HOSTS' }, 421);
    }
    const token = getCookie(c, CSRF_COOKIE);
    if (!SAFE_METHODS.has(c.req.method)) {
      const origin = c.req.header('origin');
      if (origin !== undefined && (origin === 'null' || hostName(URL.canParse(origin) ? new URL(origin).host : origin) !== hostName(host))) {
        return c.json({ error: "changes are taken from the dashboard's own pages only" }, 403);
      }
      const sent = c.req.header(CSRF_HEADER) ?? '';
      if (!token || !sameText(sent, token)) {
        return c.json({ error: `a change needs the ${CSRF_COOKIE} cookie's value in ${CSRF_HEADER}; reload the page` }, 403);
      }
      return next();
    }
    await next();
    if (!token) setCookie(c, CSRF_COOKIE, randomBytes(24).toString('base64url'), { path: cookiePath, sameSite: 'Strict' });
  };
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
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
  const boardPath = `${basePath === '/' ? '' : basePath}/queues`;
  const serverAdapter = new HonoAdapter(options.serveStatic).setBasePath(boardPath);
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
  app.use('*', requestGuard(options.allowedHosts ?? [], basePath));
  app.use('*', dashboardAuth(options.credentials, options.readonlyPassword));
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
  app.route(boardPath, serverAdapter.registerPlugin());
  if (options.console) app.route(basePath, options.console);
  return app;
}
