/**
 * Runs one scenario: a fresh gateway and worker on the run's isolation, steady load for
 * before + hold + after seconds with the fault injected and lifted beside it, the drain, and the
 * checker (bench/run-loadtest.ts). The row says what the table shows and why a run failed.
 */
import { type LoadtestReport, runLoadtest } from '../bench/run-loadtest.ts';
import type { Isolated } from '../support/isolation.ts';
import type { KafkaCluster } from '../support/kafka-cluster.ts';
import { freePort, type Proc, startEdge, startGateway, startProducerService, startWorker } from '../support/processes.ts';
import { waitFor } from '../support/wait-for.ts';
import type { ChaosContext, Scenario } from './scenario.ts';

export interface ChaosLoad {
  /** Offered requests per second. */
  rate: number;
  connections: number;
  /** Events per request. */
  batch: number;
  /** Seconds before the load generator gives up on a request: above the delivery timeout. */
  timeoutS: number;
  /** The gateway's KAFKA_DELIVERY_TIMEOUT_MS: the longest a request may wait for Kafka. */
  deliveryTimeoutMs: number;
}

export const DEFAULT_LOAD: ChaosLoad = { rate: 40, connections: 64, batch: 5, timeoutS: 20, deliveryTimeoutMs: 10_000 };

export interface ChaosRow {
  id: string;
  title: string;
  fault: string;
  command: string;
  /** Events the gateway acknowledged (2xx). */
  acknowledged: number;
  /** Acknowledged events missing from a sink (PostgreSQL, ClickHouse, Redis counters). */
  lost: number;
  /** Events present twice in a sink, or counted twice. */
  duplicated: number;
  /** Events present that no request of the run may have produced. */
  phantom: number;
  /** Events of unanswered or 5xx requests (allowed in the sinks at most once). */
  indeterminate: number;
  requests: number;
  statusCounts: Record<string, number>;
  fiveXx: number;
  /** 5xx answers without Retry-After. */
  fiveXxWithoutRetryAfter: number;
  /** 2xx answers while fewer than min.insync.replicas brokers ran. */
  twoXxBelowMinIsr: number;
  /** 207 answers in that window (their accepted entries may predate the fault). */
  partialBelowMinIsr: number;
  connectionErrors: number;
  timeouts: number;
  longestMs: number;
  /** Most events acknowledged and not yet applied by the workers, seen during the run. */
  peakBacklog: number;
  /** Seconds from lifting the fault to recovery (see Scenario.recovery). */
  recoverS: number;
  drainS: number;
  /** Moments of the run, seconds since the load started. */
  marks: Record<string, number>;
  verdict: 'PASS' | 'FAIL';
  problems: string[];
}

export interface ChaosEnv {
  cluster: KafkaCluster;
  iso: Isolated;
  load: ChaosLoad;
  log: (line: string) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const alive = (p: Proc) => p.child.exitCode === null && p.child.signalCode === null;

export async function runScenario(s: Scenario, env: ChaosEnv): Promise<ChaosRow> {
  const { cluster, iso, load, log } = env;
  const marks: Record<string, number> = {};
  let loadStart = Date.now();
  const base = { cluster, iso, log, sleep, mark: (label: string) => void (marks[label] = Date.now()) };
  const workers: Proc[] = [];
  let gateway: { proc: Proc; url: string } | undefined;
  let producerService: ChaosContext['producerService'];
  const problems: string[] = [];
  log(`scenario ${s.id}: ${s.title}`);

  // Every scenario starts from a healthy cluster with every replica in sync.
  await cluster.start();
  for (const n of [1, 2, 3]) await cluster.resume(n).catch(() => {});
  await cluster.waitInSync(['orders', 'page_views'].map(iso.topic));
  await s.setup?.({ cluster, iso, log });
  try {
    const workerEnv = { ...iso.env, ...s.workerEnv?.() };
    const spawnWorker = (extra: Record<string, string> = {}) => {
      const w = startWorker({ ...workerEnv, ...extra });
      workers.push(w);
      return w;
    };
    const ctxBase = { ...base, startWorker: spawnWorker };
    const gatewayEnv = { ...iso.env, KAFKA_DELIVERY_TIMEOUT_MS: String(load.deliveryTimeoutMs), ...s.gatewayEnv?.() };
    if (s.edge) {
      // The producer service keeps its port across restarts: the edge is configured with one URL.
      const port = await freePort();
      const producerEnv = { ...gatewayEnv, PRODUCER_TOKEN: `chaos-${Date.now().toString(36)}-producer-token` };
      const first = await startProducerService(producerEnv, port);
      const ps = (producerService = {
        ...first,
        restart: async () => {
          const again = await startProducerService(producerEnv, port);
          ps.proc = again.proc;
        },
      });
      gateway = await startEdge({ ...gatewayEnv, PRODUCER_URL: ps.url, PRODUCER_TOKEN: producerEnv.PRODUCER_TOKEN });
    } else {
      gateway = await startGateway({ ...gatewayEnv, GATEWAY_PROCESSES: String(s.gatewayProcesses ?? 1) });
    }
    spawnWorker();
    const ctx: ChaosContext = { ...ctxBase, gateway, workers, ...(producerService ? { producerService } : {}) };

    const answers: { at: number; status: number }[] = [];
    let withoutRetryAfter = 0;
    const readyz: { at: number; status: number }[] = [];
    let loadRunning = true;
    const pollReadyz = async () => {
      while (loadRunning) {
        const status = await fetch(`${gateway!.url}/readyz`, { signal: AbortSignal.timeout(5000) }).then((r) => r.status, () => 0);
        readyz.push({ at: Date.now(), status });
        await sleep(1000);
      }
    };

    const durationS = s.beforeS + s.holdS + s.afterS;
    const report: LoadtestReport = await runLoadtest({
      url: gateway.url,
      connections: load.connections,
      rate: load.rate,
      durationS,
      phases: 5,
      batch: load.batch,
      ordersRatio: 0.5,
      keys: 200,
      runId: `chaos${s.id.toLowerCase()}${Date.now().toString(36)}`,
      timeoutS: load.timeoutS,
      drainTimeoutS: 180,
      sinks: { databaseUrl: iso.env.DATABASE_URL!, clickhouseUrl: iso.env.CLICKHOUSE_URL!, redisUrl: iso.env.REDIS_URL!, redisPrefix: iso.env.REDIS_PREFIX! },
      log: (line) => log(`  ${line}`),
      onAnswer: (_seq, status, headers) => {
        answers.push({ at: Date.now(), status });
        if (status >= 500 && headers['retry-after'] === undefined) withoutRetryAfter++;
      },
      alongside: async () => {
        loadStart = Date.now();
        const poller = s.kafkaDown ? pollReadyz() : undefined;
        await sleep(s.beforeS * 1000);
        ctx.mark('fault');
        await s.inject(ctx);
        await sleep(Math.max(0, marks.fault! + s.holdS * 1000 - Date.now()));
        ctx.mark('lift');
        await s.lift(ctx);
        ctx.mark('lifted');
        // The poller stops with the load; the run goes on while it has seconds left.
        setTimeout(() => (loadRunning = false), Math.max(0, loadStart + durationS * 1000 - Date.now())).unref();
        await poller;
      },
    });

    const c = report.check;
    const sinks = [c.postgres, c.clickhouse];
    const lost = sinks.reduce((a, v) => a + v.lost, 0) + c.redisPageViews.under;
    const duplicated = sinks.reduce((a, v) => a + v.duplicates, 0) + c.redisPageViews.over;
    const phantom = sinks.reduce((a, v) => a + v.phantoms, 0);
    if (lost) problems.push(`lost ${lost} acknowledged events (${[...c.postgres.samples.lost, ...c.clickhouse.samples.lost].join(', ')})`);
    if (duplicated) problems.push(`${duplicated} events twice (${[...c.postgres.samples.duplicates, ...c.clickhouse.samples.duplicates].join(', ')})`);
    if (phantom) problems.push(`${phantom} phantom events (${[...c.postgres.samples.phantoms, ...c.clickhouse.samples.phantoms].join(', ')})`);
    if (!c.orders.ok) problems.push(`orders rows ${c.orders.rows}, expected ${c.orders.expectedAtLeast}..${c.orders.expectedAtMost}`);
    if (!report.drain.complete) problems.push('the sinks did not catch up within the drain timeout');

    const fiveXx = Object.entries(report.load.statusCounts).filter(([k]) => Number(k) >= 500).reduce((a, [, n]) => a + n, 0);
    if (withoutRetryAfter) problems.push(`${withoutRetryAfter} 5xx answers without Retry-After`);
    const l = report.loadResult;
    if (l.timeouts) problems.push(`${l.timeouts} requests unanswered after ${load.timeoutS} s`);
    if (l.longestMs > load.deliveryTimeoutMs + 3000) {
      problems.push(`a request took ${Math.round(l.longestMs)} ms, past the ${load.deliveryTimeoutMs} ms delivery timeout`);
    }

    let twoXxBelowMinIsr = 0;
    let partialBelowMinIsr = 0;
    if (s.belowMinIsr) {
      const [from, to] = s.belowMinIsr.map((m) => marks[m]!);
      // A second of grace: answers already on their way when the brokers died. A 207 does not
      // count: its accepted entries may have been acknowledged before the fault, the answer
      // waiting for the entries that then failed.
      twoXxBelowMinIsr = answers.filter((a) => a.status >= 200 && a.status < 300 && a.status !== 207 && a.at > from! + 1000 && a.at < to!).length;
      partialBelowMinIsr = answers.filter((a) => a.status === 207 && a.at > from! + 1000 && a.at < to!).length;
      if (twoXxBelowMinIsr) problems.push(`${twoXxBelowMinIsr} 2xx answers while below min.insync.replicas`);
      if (!answers.some((a) => a.status === 503 && a.at > from! && a.at < to! + load.deliveryTimeoutMs)) {
        problems.push('no 503 while below min.insync.replicas');
      }
    }
    if (s.kafkaDown) {
      const [from, to] = s.kafkaDown.map((m) => marks[m]!);
      const during = readyz.filter((r) => r.at > from! + 3000 && r.at < to!);
      if (during.length === 0 || during.some((r) => r.status === 200)) {
        problems.push(`/readyz said ready while Kafka was down (${during.map((r) => r.status).join(',')})`);
      }
    }

    const backlog = (from: number, to: number) =>
      report.timeline.filter((p) => loadStart + p.t * 1000 >= from && loadStart + p.t * 1000 <= to).reduce((m, p) => Math.max(m, p.accepted - p.applied), 0);
    const peakBacklog = backlog(loadStart, Infinity);
    if (s.backlogGrows) {
      const [from, to] = s.backlogGrows.map((m) => marks[m]!);
      const before = backlog(loadStart, from!);
      const during = backlog(from!, to!);
      // Less than ten seconds of offered load piling up means the workers were not cut off.
      if (during < Math.max(10 * before, load.rate * load.batch * 10 * 0.5)) {
        problems.push(`the backlog did not grow during the fault (${before} before, ${during} during)`);
      }
    }

    const lift = marks.lift!;
    const okAfter = answers.some((a) => a.at > lift && a.status >= 200 && a.status < 300);
    if (!okAfter) problems.push('no 2xx after the fault was lifted: writes did not resume');
    const lastBad = answers.filter((a) => a.at > lift && (a.status < 200 || a.status >= 300)).reduce((m, a) => Math.max(m, a.at), lift);
    const drainDone = l.endedAt + report.drain.afterLoadS * 1000;
    // Writes: until the last failure after the lift, or the first success after it if later.
    const firstOk = answers.find((a) => a.at > lift && a.status >= 200 && a.status < 300)?.at ?? lift;
    const recoverS = s.recovery === 'writes' ? (Math.max(lastBad, firstOk) - lift) / 1000 : Math.max(0, drainDone - lift) / 1000;

    // Recovery without restarts: every Ferry process still running answers again.
    if (!alive(gateway.proc)) problems.push(`the gateway exited\n${gateway.proc.output().slice(-2000)}`);
    for (const w of workers) if (!alive(w)) problems.push(`a worker exited\n${w.output().slice(-2000)}`);
    const ready = await waitFor(async () => (await fetch(`${gateway!.url}/readyz`)).ok, { what: 'gateway ready', timeoutMs: 30_000 }).catch(() => false);
    if (!ready) problems.push('the gateway is not ready after the run');

    const at = (t: number) => Math.round((t - loadStart) / 100) / 10;
    return {
      id: s.id,
      title: s.title,
      fault: s.fault,
      command: `npm run chaos -- --only ${s.id}`,
      acknowledged: report.events.accepted,
      lost,
      duplicated,
      phantom,
      indeterminate: report.events.indeterminate,
      requests: report.load.requests,
      statusCounts: report.load.statusCounts,
      fiveXx,
      fiveXxWithoutRetryAfter: withoutRetryAfter,
      twoXxBelowMinIsr,
      partialBelowMinIsr,
      connectionErrors: l.errors,
      timeouts: l.timeouts,
      longestMs: Math.round(l.longestMs),
      peakBacklog,
      recoverS: Math.round(recoverS * 10) / 10,
      drainS: Math.round(report.drain.afterLoadS * 10) / 10,
      marks: Object.fromEntries(Object.entries(marks).map(([k, v]) => [k, at(v)])),
      verdict: problems.length === 0 ? 'PASS' : 'FAIL',
      problems,
    };
  } finally {
    await Promise.all([gateway?.proc.stop(), producerService?.proc.stop(), ...workers.map((w) => w.stop())]);
    await s.teardown?.();
  }
}
