/**
 * Leg a: the gateway's single-event POST req/s against a bare Hono handler (same JSON parse, 202,
 * no Kafka), alternated; in a full run also two informational legs.
 */
import { sha256Hex } from '../../lib/api-keys.ts';
import type { Isolated } from '../../support/isolation.ts';
import type { LegResult } from '../bench-result.ts';
import type { BenchContext } from '../context.ts';
import { httpLeg, pairedHttpLegs, pool } from '../measure.ts';

export async function legA(ctx: BenchContext, iso: Isolated): Promise<LegResult[]> {
  const requests = pool(ctx, 1, 500);
  const gw = await ctx.server('gateway-a', 'gateway/main.ts', ctx.gatewayEnv(iso), '/readyz');
  const bare = await ctx.server('bare-server', 'bench/servers/bare-server.ts', {});
  const [gateway, floor] = await pairedHttpLegs(
    ctx,
    { id: 'a-gateway', title: 'gateway: single-event POST (202 after Kafka ack), default configuration', url: gw.url },
    { id: 'a-bare', title: 'bare Hono handler: same JSON parse, 202, no Kafka', url: bare.url },
    requests,
    1,
    ctx.settings.offeredSingle,
  ).finally(() => Promise.all([ctx.stop(gw.proc), ctx.stop(bare.proc)]));
  if (ctx.quick) return [gateway, floor];
  // Informational: the same floor reading the body as the gateway does (from Node's request).
  const bareNode = await ctx.server('bare-server-node-body', 'bench/servers/bare-server.ts', { BODY: 'node' });
  const floorNode = await httpLeg(
    ctx,
    'a-bare-node-body',
    'bare Hono handler reading the body as the gateway does (gateway/node/body.ts)',
    bareNode.url,
    requests,
    1,
    ctx.settings.offeredSingle,
  ).finally(() => ctx.stop(bareNode.proc));
  floorNode.notes.push(
    "Informational: not one of the ratios. The floor of ratio a reads the body with Hono's c.req.text(), which builds a web Request, an AbortSignal and a stream per request; the gateway reads Node's request directly. This floor does the same, to show what the rest of the gateway costs.",
  );
  // Informational: the production configuration (API key required, no CORS by default). Its
  // rate limits stay on, each request checked against Redis, with limits far above what one
  // client sends, so the leg measures their cost rather than their limit.
  const key = `fry_bench_${crypto.randomUUID()}`;
  const keys = JSON.stringify([{ id: 'bench', tenant: 'bench', sha256: await sha256Hex(key), scopes: ['write:orders', 'write:page_views'] }]);
  const prod = await ctx.server('gateway-a-production', 'gateway/main.ts', {
    ...ctx.gatewayEnv(iso),
    NODE_ENV: 'production',
    FERRY_API_KEYS: keys,
    RATE_LIMIT_PER_SECOND: '1000000',
    RATE_LIMIT_ADDRESS_PER_SECOND: '1000000',
  }, '/readyz');
  const production = await httpLeg(
    ctx,
    'a-gateway-production',
    'gateway: single-event POST, NODE_ENV=production (API key and rate limits checked, no CORS)',
    prod.url,
    requests,
    1,
    ctx.settings.offeredSingle,
    { 'x-api-key': key },
  ).finally(() => ctx.stop(prod.proc));
  production.notes.push(
    'Informational: not one of the ratios. Same gateway with NODE_ENV=production: every request carries an API key (SHA-256 checked) and the CORS middleware is not installed (no CORS_ORIGINS).',
  );
  return [gateway, floor, production, floorNode];
}
