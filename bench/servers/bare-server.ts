/**
 * The floor for ratio a: a bare Hono server on @hono/node-server, like the gateway's, that
 * reads the body, parses the JSON the same way and answers 202 with the same shape, without
 * validation, Avro, middleware or Kafka. PORT, HOST from the environment. BODY=node reads the
 * body the way the gateway does (gateway/node/body.ts) instead of Hono's `c.req.text()`: the
 * informational floor with the same body path.
 */
import { serve } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { readNodeBody } from '../../gateway/node/body.ts';

const readText = process.env.BODY === 'node'
  ? async (c: Context) => {
    const body = await readNodeBody(c, 1024 * 1024);
    if (!body.ok) throw new Error('unreadable body');
    return body.text;
  }
  : (c: Context) => c.req.text();

const app = new Hono();
app.get('/healthz', (c) => c.json({ status: 'ok' }));
app.post('/v1/events/:topic', async function bareIngest(c) {
  const topic = c.req.param('topic');
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readText(c));
  } catch (err) {
    return c.json({ title: 'Malformed JSON', detail: (err as Error).message }, 400);
  }
  if (!Array.isArray(parsed)) return c.json({ event_id: crypto.randomUUID(), topic, partition: 0, offset: '0' }, 202);
  const results = parsed.map(() => ({ status: 'accepted', event_id: crypto.randomUUID(), partition: 0, offset: '0' }));
  return c.json({ topic, accepted: results.length, failed: 0, results }, 202);
});

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 8090), hostname: process.env.HOST ?? '127.0.0.1' });
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
