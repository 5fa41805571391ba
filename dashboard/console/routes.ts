/**
 * The operator's console as a Hono app, mounted at the dashboard's base path: the page and its
 * script, and the JSON and Server-Sent-Events endpoints under `/api/console/`. The dashboard's
 * Host/Origin/CSRF checks and credentials (dashboard/app.ts, dashboard/auth.ts) run before it.
 */
import { readFileSync } from 'node:fs';
import { fromRoot } from '../../lib/paths.ts';
import { type Context, Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { FilterError, parseFilter } from './letter-filter.ts';
import { CursorError } from './letter-pages.ts';
import type { LetterQuery } from './letter-query.ts';
import { type Action, type LetterActions, parseSelection } from './letter-actions.ts';
import { ConfirmationError } from './confirmations.ts';
import type { AuditLog } from './audit-log.ts';
import type { LetterView, StoredLetter } from './letter-view.ts';
import type { RetryInProgress } from './parked-retries.ts';
import type { PipelineFeed } from './pipeline-feed.ts';
import type { Timeline } from './event-search.ts';

export interface ConsoleOptions {
  basePath: string;
  title: string;
  letters: LetterQuery;
  actions: LetterActions;
  audit: AuditLog;
  view: (l: StoredLetter) => LetterView;
  retries: () => Promise<RetryInProgress[]>;
  feed: PipelineFeed;
  search: (q: string) => Promise<Timeline>;
}

const here = fromRoot('dashboard/console/');
const PAGE = readFileSync(new URL('page.html', here), 'utf8');
const SCRIPT = readFileSync(new URL('console.js', here), 'utf8');

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Page size at most. */
export const MAX_LIMIT = 200;

async function body(c: Context): Promise<Record<string, unknown>> {
  try {
    const b = (await c.req.json()) as unknown;
    if (b && typeof b === 'object' && !Array.isArray(b)) return b as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new FilterError('send a JSON object');
}

export function consoleRoutes(o: ConsoleOptions): Hono {
  const base = o.basePath === '/' ? '' : o.basePath;
  const page = PAGE.replaceAll('%BASE%', escapeHtml(base)).replaceAll('%TITLE%', escapeHtml(o.title));
  const app = new Hono();
  app.onError((err, c) => {
    if (err instanceof FilterError || err instanceof CursorError) return c.json({ error: err.message }, 400);
    if (err instanceof ConfirmationError) return c.json({ error: err.message }, 409);
    // Reasons only: never a request body or a record.
    return c.json({ error: `the console could not answer: ${err.message.slice(0, 200)}` }, 503);
  });
  const html = (c: Context) =>
    c.html(page, 200, { 'cache-control': 'no-store', 'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:" });
  app.get('/', html);
  app.get('/console.js', (c) => c.body(SCRIPT, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }));

  app.get('/api/console/me', (c) => c.json(c.get('user')));

  app.get('/api/console/dead-letters', async (c) => {
    const filter = parseFilter(c.req.query());
    const limit = Math.min(MAX_LIMIT, Math.max(1, Number(c.req.query('limit') ?? 50) || 50));
    const page = await o.letters.page(filter, c.req.query('cursor') || undefined, limit);
    return c.json({ letters: page.letters.map(o.view), scanned: page.scanned, ...(page.next ? { next: page.next } : {}) });
  });

  app.post('/api/console/dead-letters/dry-run', async (c) => {
    const b = await body(c);
    if (b.action !== 'redrive' && b.action !== 'discard') throw new FilterError('action must be redrive or discard');
    return c.json({ action: b.action, ...(await o.actions.dryRun(b.action, parseSelection(b))) });
  });

  for (const action of ['redrive', 'discard'] as Action[]) {
    app.post(`/api/console/dead-letters/${action}`, async (c) => {
      const b = await body(c);
      const selection = parseSelection(b);
      const result = await o.actions.act(action, selection, b.token, b.count, c.get('user').name);
      return c.json({ action, count: b.count, ...result });
    });
  }

  app.get('/api/console/audit', async (c) => c.json({ entries: await o.audit.list(Math.min(1000, Number(c.req.query('limit') ?? 100) || 100)) }));
  app.get('/api/console/retries', async (c) => c.json({ retries: await o.retries() }));

  app.get('/api/console/search', async (c) => {
    const q = (c.req.query('q') ?? '').trim();
    if (!q || q.length > 200) throw new FilterError('q must be an event id or an order id');
    return c.json(await o.search(q));
  });

  app.get('/api/console/pipeline', async (c) => c.json(await o.feed.now()));
  app.get('/api/console/pipeline/stream', (c) =>
    streamSSE(c, async (stream) => {
      let wake: (() => void) | undefined;
      let pending: string | undefined;
      const off = o.feed.subscribe((s) => {
        pending = JSON.stringify(s);
        wake?.();
      });
      stream.onAbort(() => {
        off();
        wake?.();
      });
      try {
        while (!stream.aborted) {
          if (pending === undefined) await new Promise<void>((r) => (wake = r));
          wake = undefined;
          if (pending !== undefined && !stream.aborted) {
            const data = pending;
            pending = undefined;
            await stream.writeSSE({ event: 'pipeline', data });
          }
        }
      } finally {
        off();
      }
    }));
  return app;
}
