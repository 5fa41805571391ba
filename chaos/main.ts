/**
 * `npm run chaos -- [--only 1,3,5] [--rate N] [--keep-cluster] [--no-services]`: runs each fault scenario under
 * steady load on the three-node cluster (scripts/kafka-cluster.sh, started here) and checks every
 * acknowledged event landed exactly once. Prints the table and writes
 * bench/results/chaos-<timestamp>.json and .md. Exit code 0 when every row passed.
 * --no-services: PostgreSQL, Redis and ClickHouse already run (shared, owned by someone else).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isolate } from '../support/isolation.ts';
import { KafkaCluster } from '../support/kafka-cluster.ts';
import { formatMarkdown, formatTable } from './report.ts';
import { type ChaosRow, DEFAULT_LOAD, runScenario } from './run-scenario.ts';
import { allScenarios } from './scenarios/index.ts';

const root = new URL('../', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    rate: { type: 'string' },
    'keep-cluster': { type: 'boolean' },
    'no-services': { type: 'boolean' },
  },
});
const only = values.only?.split(',').map((s) => s.trim().toLowerCase());
const scenarios = allScenarios().filter((s) => !only || only.includes(s.id.toLowerCase()) || only.includes(s.id.replace(/[a-z]$/, '')));
if (scenarios.length === 0) {
  process.stderr.write(`chaos: no scenario matches --only ${values.only}\n`);
  process.exit(2);
}
const load = { ...DEFAULT_LOAD, ...(values.rate ? { rate: Number(values.rate) } : {}) };
const log = (line: string) => process.stderr.write(`[chaos] ${line}\n`);

if (!values['no-services']) execFileSync('bash', [`${root}scripts/services.sh`, 'start'], { stdio: 'inherit' });
const cluster = new KafkaCluster();
const wasRunning = !/down/.test(await cluster.status().catch(() => 'down'));
await cluster.start();
const iso = await isolate({ KAFKA_BROKERS: cluster.brokers.join(',') });
const startedAt = new Date().toISOString();
const rows: ChaosRow[] = [];
try {
  for (const s of scenarios) {
    const row = await runScenario(s, { cluster, iso, load, log });
    rows.push(row);
    log(`scenario ${row.id}: ${row.verdict}${row.problems.length ? ` (${row.problems.join('; ')})` : ''}`);
  }
} finally {
  await iso.cleanup().catch((err: Error) => log(`cleanup: ${err.message}`));
  if (!wasRunning && !values['keep-cluster']) await cluster.stop();
}

const table = formatTable(rows);
process.stdout.write(`${table}\n`);
const dir = `${root}bench/results`;
mkdirSync(dir, { recursive: true });
const stamp = startedAt.replace(/[:.]/g, '-');
const loadLine = `${load.rate} req/s offered over ${load.connections} connections, ${load.batch} events per request, delivery timeout ${
  load.deliveryTimeoutMs / 1000
} s`;
writeFileSync(`${dir}/chaos-${stamp}.json`, JSON.stringify({ startedAt, load, rows }, null, 2));
writeFileSync(`${dir}/chaos-${stamp}.md`, formatMarkdown(rows, { startedAt, load: loadLine }));
log(`written to bench/results/chaos-${stamp}.json and .md`);
process.exit(rows.every((r) => r.verdict === 'PASS') ? 0 : 1);
