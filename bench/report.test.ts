import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BenchResult, LegResult } from './bench-result.ts';
import { cpuTable, escapeHtml, lineChart, renderHtml, renderMarkdown } from './report.ts';
import { summarize } from './stats.ts';

const leg = (id: string, extra: Partial<LegResult> = {}): LegResult => ({
  id,
  title: `${id} <title>`,
  kind: 'http',
  unit: 'req/s',
  value: 1000,
  valid: true,
  invalid: [],
  notes: ['a note'],
  cpuCores: { gateway: 0.9, 'load generator': 0.3, machine: 1.3, other: 0.1 },
  throughputSeries: [{ t: 1, v: 900 }, { t: 2, v: 1000 }],
  latencyMs: summarize([1, 2, 3]),
  distribution: [{ percentile: 0, ms: 1 }, { percentile: 50, ms: 2 }, { percentile: 99.9, ms: 3 }],
  ...extra,
});

const result: BenchResult = {
  mode: 'quick',
  profiled: false,
  startedAt: '2026-11-25T00:00:00.000Z',
  durationS: 42,
  machine: { nproc: 2, memoryGiB: 24, cpuModel: 'AMD EPYC', kernel: 'Linux 6', node: 'v20', loadAverageStart: [0.1, 0.2, 0.3], loadAverageEnd: [1, 1, 1] },
  settings: {},
  legs: [
    leg('a-gateway', { metrics: { 'ferry_gateway_produce_duration_seconds{outcome="ok"}': { count: 10, mean: 0.012, p50: 0.01, p99: 0.03 } } }),
    leg('a-bare', { valid: false, invalid: ['load generator used 0.95 cores'] }),
    leg('d-drain', {
      kind: 'drain',
      unit: 'events/s',
      lagSeries: [{ t: 0, v: 100 }, { t: 1, v: 0 }],
      endToEnd: { postgresMs: summarize([5, 10]), clickhouseMs: summarize([6, 12]) },
      drainCpuUsPerEvent: { 'worker-d': 30, kafka: 10, postgresql: 12, clickhouse: 5, redis: 3, 'gateway-d': 1, machine: 80 },
    }),
  ],
  goals: [
    { id: '1', title: 'worker / stores', numerator: 'd-drain', value: 1.0, target: 1, direction: '<=', met: true },
    { id: '4', title: 'start-up', numerator: 'u-startup', value: 0.42, target: 0.3, direction: '<=', unit: 's', met: false },
  ],
  ratios: [
    {
      id: 'a',
      title: 'gateway / bare',
      numerator: 'a-gateway',
      denominator: 'a-bare',
      value: 1,
      target: 0.8,
      direction: '>=',
      met: null,
      why: 'leg a-bare invalid',
    },
    { id: 'd', title: 'drain / ingest', numerator: 'd-drain', denominator: 'b-gateway', value: 2.5, target: 1.5, direction: '>=', met: true },
    { id: 'f', title: 'p99', numerator: 'f', value: 70, target: 50, direction: '<=', unit: 'ms', met: false },
  ],
  bridge: { available: false, tried: ['mvn -f bench/bridge/pom.xml'], outcome: 'not run' },
  commands: ['npm run bench:quick'],
};

test('the HTML report is self-contained: no scripts, stylesheets or images from elsewhere', () => {
  const html = renderHtml(result);
  assert.ok(html.startsWith('<!doctype html>'));
  assert.doesNotMatch(html, /<script|<link|<img|src=|@import|url\(/i);
  assert.ok((html.match(/<svg /g) ?? []).length >= 4, 'latency, end-to-end, throughput and lag charts');
  assert.match(html, /a-gateway &lt;title&gt;/, 'text is escaped');
  assert.doesNotMatch(html, /a-gateway <title>/);
  assert.match(html, /INVALID: load generator used 0.95 cores/);
  assert.match(html, /Where time goes/);
  assert.match(html, /ferry_gateway_produce_duration_seconds/);
});

test('the Markdown table gives every ratio a verdict', () => {
  const md = renderMarkdown(result);
  assert.match(md, /\| a \| gateway \/ bare \| 1\.00 \| >= 0\.8 \| not measured: leg a-bare invalid \|/);
  assert.match(md, /\| d \| drain \/ ingest \| 2\.50 \| >= 1\.5 \| met \|/);
  assert.match(md, /\| f \| p99 \| 70 ms \| <= 50 ms \| MISSED \|/);
  assert.match(md, /2 cores \(AMD EPYC\)/);
  // CPU column leaves out the machine totals and idle processes.
  assert.match(md, /gateway 0\.9, load generator 0\.3 \|/);
});

test('the CPU table: µs per event by kind of process and leg, with the stores summed and the worker set against them', () => {
  const [head, ...body] = cpuTable(result);
  // a-gateway: 0.9 cores at 1000 events/s = 900 µs per event; d-drain: the whole drain's figures.
  assert.deepEqual(head, ['process', 'd: worker drain (whole drain)', 'a: gateway, single events']);
  const row = (name: string) => body.find((r) => r[0] === name);
  assert.deepEqual(row('worker'), ['worker', '30', '']);
  assert.deepEqual(row('gateway'), ['gateway', '1', '900']);
  assert.deepEqual(row('Kafka + stores'), ['Kafka + stores', '30', '0']);
  assert.deepEqual(row('worker / (Kafka + stores)'), ['worker / (Kafka + stores)', '1.00', '']);
  assert.equal(row('machine'), undefined, 'the host total is not a process');
  assert.equal(body[0]![0], 'worker', 'the worker leads');
  const md = renderMarkdown(result);
  assert.ok(md.indexOf('| process |') < md.indexOf('| goal |') && md.indexOf('| goal |') < md.indexOf('| ratio |'), 'CPU table, then goals, then ratios');
  assert.match(md, /\| 4 \| start-up \| 0\.42 s \| <= 0\.3 s \| MISSED \|/);
});

test('charts: no data, and a percentile axis', () => {
  assert.match(lineChart([], { title: 'empty', xLabel: 'x', yLabel: 'y' }), /no data/);
  const svg = lineChart([{ name: 'n', points: [{ x: 50, y: 1 }, { x: 99.9, y: 100 }] }], { title: 't', xLabel: 'x', yLabel: 'y', x: 'percentile', y: 'log' });
  assert.match(svg, /99\.9%/);
  assert.match(svg, /<path d="M/);
  assert.equal(escapeHtml('<a href="x">&</a>'), '&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;');
});

test("the peer's outcome is reported when leg g was asked for", () => {
  const peer = { available: false, tried: ['npm install --prefix <cache> @platformatic/kafka-hooks@0.6.4'], outcome: 'installing it failed: E404' };
  assert.doesNotMatch(renderMarkdown(result), /Peer of ratio 5/);
  assert.match(renderMarkdown({ ...result, peer }), /Peer of ratio 5: installing it failed: E404/);
  assert.match(renderHtml({ ...result, peer }), /<h2>Peer of ratio 5<\/h2><p>installing it failed: E404<\/p><ul><li><code>npm install/);
});

test("leg s's column is its held trial's CPU per event, not its window's average cores", () => {
  const s = leg('s-sustained', {
    kind: 'e2e',
    unit: 'events/s',
    value: 20_000,
    cpuCores: { kafka: 0.5, 'gateway-d': 0.9 },
    cpuUsPerEvent: { kafka: 12, 'gateway-d': 40, 'worker-d': 30, postgresql: 18 },
  });
  const [head, ...body] = cpuTable({ ...result, legs: [...result.legs, s] });
  const col = head!.indexOf('s: sustained, batches of 50 (held trial)');
  assert.ok(col > 0, 'leg s has a column');
  const row = (name: string) => body.find((r) => r[0] === name)!;
  assert.equal(row('kafka')[col], '12');
  assert.equal(row('gateway')[col], '40');
  assert.equal(row('worker / (Kafka + stores)')[col], '1.00');
});
