/**
 * `npm run loadtest -- [options]`: load-tests an already running Ferry and checks the result.
 *
 *   --url URL             gateway (default http://127.0.0.1:8080)
 *   -c, --connections N   concurrent connections (default 32)
 *   -R, --rate N          offered requests per second, fixed (default 1000)
 *   -d, --duration S      seconds of measured load (default 30)
 *   -b, --batch N         events per request; 1 posts single events (default 1)
 *   --orders-ratio X      share of requests that are orders, the rest page views (default 0.5)
 *   --keys N              distinct order ids / user ids (default 1000)
 *   --warmup S            seconds of unchecked load first (default 0)
 *   --phases N            autocannon instances 1/N s apart, to spread the load (default 10)
 *   --drain-timeout S     how long to wait for the sinks (default 120)
 *   --api-key KEY         sent as X-API-Key (or FERRY_API_KEY)
 *   --out DIR             where the JSON goes (default bench/results)
 *
 * Sinks come from the same environment as the product: DATABASE_URL, CLICKHOUSE_URL,
 * REDIS_URL, REDIS_PREFIX. Exit code 0 when the checker passed, 1 when it found a problem.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadCommonConfig, orExit } from '../lib/config.ts';
import { formatLoadtest, runLoadtest, toJson } from './run-loadtest.ts';

const root = new URL('../', import.meta.url).pathname;

function num(v: string | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`loadtest: --${name} must be a non-negative number, got ${v}\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      connections: { type: 'string', short: 'c' },
      rate: { type: 'string', short: 'R' },
      duration: { type: 'string', short: 'd' },
      batch: { type: 'string', short: 'b' },
      'orders-ratio': { type: 'string' },
      keys: { type: 'string' },
      warmup: { type: 'string' },
      phases: { type: 'string' },
      'drain-timeout': { type: 'string' },
      'api-key': { type: 'string' },
      out: { type: 'string' },
    },
  });
  const common = orExit(() => loadCommonConfig(process.env));
  const apiKey = values['api-key'] ?? process.env.FERRY_API_KEY;
  const report = await runLoadtest({
    url: values.url ?? 'http://127.0.0.1:8080',
    connections: num(values.connections, 32, 'connections'),
    rate: num(values.rate, 1000, 'rate'),
    durationS: num(values.duration, 30, 'duration'),
    batch: num(values.batch, 1, 'batch'),
    ordersRatio: num(values['orders-ratio'], 0.5, 'orders-ratio'),
    keys: num(values.keys, 1000, 'keys'),
    warmupS: num(values.warmup, 0, 'warmup'),
    phases: num(values.phases, 10, 'phases'),
    drainTimeoutS: num(values['drain-timeout'], 120, 'drain-timeout'),
    headers: apiKey ? { 'x-api-key': apiKey } : {},
    sinks: { databaseUrl: common.databaseUrl, clickhouseUrl: common.clickhouseUrl, redisUrl: common.redisUrl, redisPrefix: common.redisPrefix },
    log: (line) => process.stderr.write(`[loadtest] ${line}\n`),
  });
  const dir = values.out ?? `${root}bench/results`;
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/loadtest-${report.runId}.json`;
  writeFileSync(file, JSON.stringify(toJson(report), null, 2));
  process.stdout.write(`${formatLoadtest(report)}\nwrote ${file}\n`);
  process.exit(report.check.ok ? 0 : 1);
}

main().catch((err: Error) => {
  process.stderr.write(`loadtest: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
