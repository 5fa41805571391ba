/**
 * Renders a benchmark run: a self-contained HTML page (inline CSS and SVG, no scripts, no
 * CDN) and a Markdown table for docs/benchmarks.md. Pure functions of the result.
 */
import type { BenchResult, LegResult, Point, Ratio } from './bench-result.ts';
import { round } from './stats.ts';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export interface Series {
  name: string;
  points: { x: number; y: number }[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** `percentile`: x is a percentile, spread as 1/(1-p) on a log axis (HdrHistogram style). */
  x?: 'linear' | 'percentile';
  y?: 'linear' | 'log';
  width?: number;
  height?: number;
}

const fmt = (v: number) => (Math.abs(v) >= 1000 ? `${round(v / 1000)}k` : String(round(v)));

/** A line chart as an inline SVG string. */
export function lineChart(series: Series[], o: ChartOptions): string {
  const width = o.width ?? 720;
  const height = o.height ?? 300;
  const m = { left: 64, right: 16, top: 28, bottom: 44 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const pts = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const head =
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${
      escapeHtml(o.title)
    }">` +
    `<text x="${width / 2}" y="16" text-anchor="middle" font-weight="bold">${escapeHtml(o.title)}</text>`;
  if (pts.length === 0) return `${head}<text x="${width / 2}" y="${height / 2}" text-anchor="middle">no data</text></svg>`;

  const px = (x: number) => (o.x === 'percentile' ? Math.log10(1 / (1 - Math.min(x, 99.999) / 100)) : x);
  const py = (y: number) => (o.y === 'log' ? Math.log10(Math.max(y, 0.01)) : y);
  const xs = pts.map((p) => px(p.x));
  const ys = pts.map((p) => py(p.y));
  const x0 = o.x === 'percentile' ? 0 : Math.min(...xs);
  const x1 = o.x === 'percentile' ? 5 : Math.max(...xs, x0 + 1e-9);
  const y0 = o.y === 'log' ? Math.floor(Math.min(...ys)) : Math.min(0, ...ys);
  let y1 = o.y === 'log' ? Math.ceil(Math.max(...ys)) : Math.max(...ys);
  if (y1 <= y0) y1 = y0 + 1;
  const sx = (x: number) => m.left + ((px(x) - x0) / (x1 - x0)) * w;
  const sy = (y: number) => m.top + h - ((py(y) - y0) / (y1 - y0)) * h;

  const grid: string[] = [];
  const yTicks = o.y === 'log' ? Array.from({ length: y1 - y0 + 1 }, (_, i) => 10 ** (y0 + i)) : Array.from({ length: 5 }, (_, i) => y0 + ((y1 - y0) * i) / 4);
  for (const t of yTicks) {
    grid.push(`<line x1="${m.left}" x2="${m.left + w}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#ddd"/>`);
    grid.push(`<text x="${m.left - 6}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end" font-size="11">${fmt(t)}</text>`);
  }
  const xTicks = o.x === 'percentile' ? [0, 90, 99, 99.9, 99.99, 99.999] : Array.from({ length: 6 }, (_, i) => x0 + ((x1 - x0) * i) / 5);
  for (const t of xTicks) {
    const x = o.x === 'percentile' ? m.left + ((px(t) - x0) / (x1 - x0)) * w : m.left + ((t - x0) / (x1 - x0)) * w;
    grid.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${m.top}" y2="${m.top + h}" stroke="#eee"/>`);
    grid.push(`<text x="${x.toFixed(1)}" y="${m.top + h + 16}" text-anchor="middle" font-size="11">${o.x === 'percentile' ? `${t}%` : fmt(t)}</text>`);
  }
  const lines = series.map((s, i) => {
    const d = s.points
      .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y))
      .map((p, j) => `${j ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`)
      .join('');
    return `<path d="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"><title>${escapeHtml(s.name)}</title></path>`;
  });
  const legend = series.map(
    (s, i) =>
      `<g transform="translate(${m.left + 8 + (i % 3) * 215},${m.top + 8 + Math.floor(i / 3) * 15})"><rect width="10" height="10" fill="${
        COLORS[i % COLORS.length]
      }"/><text x="14" y="9" font-size="11">${escapeHtml(s.name)}</text></g>`,
  );
  const axes =
    `<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + h}" stroke="#333"/><line x1="${m.left}" x2="${m.left + w}" y1="${m.top + h}" y2="${
      m.top + h
    }" stroke="#333"/>` +
    `<text x="${m.left + w / 2}" y="${height - 6}" text-anchor="middle" font-size="12">${escapeHtml(o.xLabel)}</text>` +
    `<text transform="translate(14,${m.top + h / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeHtml(o.yLabel)}</text>`;
  return `${head}${grid.join('')}${axes}${lines.join('')}${legend.join('')}</svg>`;
}

const toXY = (points: Point[]) => points.map((p) => ({ x: p.t, y: p.v }));

function ratioValue(r: Ratio): string {
  if (!Number.isFinite(r.value)) return 'n/a';
  return r.unit ? `${round(r.value)} ${r.unit}` : round(r.value).toFixed(2);
}

function verdict(r: Ratio): string {
  return r.met === null ? `not measured${r.why ? `: ${r.why}` : ''}` : r.met ? 'met' : 'MISSED';
}

function legLine(l: LegResult): string[] {
  const lat = l.latencyCorrectedMs ?? l.latencyMs;
  return [
    l.id,
    l.title,
    `${round(l.value)} ${l.unit}${l.eventsPerS !== undefined && l.unit !== 'events/s' ? ` (${round(l.eventsPerS)} events/s)` : ''}`,
    lat ? `${round(lat.p50)} / ${round(lat.p99)} / ${round(lat.p999)}` : '',
    Object.entries(l.cpuCores)
      .filter(([k, v]) => v >= 0.05 && k !== 'machine' && k !== 'other')
      .map(([k, v]) => `${k} ${round(v)}`)
      .join(', '),
    l.valid ? 'valid' : `INVALID: ${l.invalid.join('; ')}`,
  ];
}

/** The legs the CPU table has a column for, in this order, with what each column measures. */
const CPU_COLUMNS: { id: string; head: string }[] = [
  { id: 'd-drain', head: 'd: worker drain (whole drain)' },
  { id: 'e-drain-failures', head: 'e: drain, 1% failing (whole drain)' },
  { id: 's-sustained', head: 's: sustained, batches of 50 (held trial)' },
  { id: 'f-end-to-end', head: 'f: end to end, single events' },
  { id: 'a-gateway', head: 'a: gateway, single events' },
  { id: 'b-gateway', head: 'b: gateway, batches' },
];

/** `worker-d` → `worker`, `gateway-a` → `gateway`: one row per kind of process across legs. */
const processKind = (name: string) => name.replace(/-[a-z]$/, '');

/** The services a drain needs besides the worker (drain-ceiling.ts DRAIN_SERVICES). */
const STORES = ['kafka', 'postgresql', 'clickhouse', 'redis', 'queue redis'];

/**
 * Where the CPU goes: µs of a core per event for each process in each leg that moves events.
 * Drain legs count every process's CPU from the worker's start to lag 0 over the backlog; leg s,
 * its best held trial from the load's start until the sinks had every event; the others, the
 * measured window's cores over its events/s.
 */
export function cpuTable(r: BenchResult): string[][] {
  const columns = CPU_COLUMNS.map((c) => ({ ...c, leg: r.legs.find((l) => l.id === c.id) })).filter((c) => c.leg);
  const perEvent = columns.map(({ leg }) => {
    const out = new Map<string, number>();
    const add = (name: string, us: number) => {
      if (name === 'machine' || name === 'other' || !Number.isFinite(us)) return;
      out.set(processKind(name), (out.get(processKind(name)) ?? 0) + us);
    };
    const whole = leg!.drainCpuUsPerEvent ?? leg!.cpuUsPerEvent;
    if (whole) { for (const [name, us] of Object.entries(whole)) add(name, us); }
    else {
      const events = leg!.eventsPerS ?? leg!.value;
      for (const [name, cores] of Object.entries(leg!.cpuCores)) if (events > 0) add(name, (cores / events) * 1e6);
    }
    return out;
  });
  const names = [...new Set(perEvent.flatMap((m) => [...m.keys()]))].sort((a, b) => {
    const rank = (n: string) => (n === 'worker' || n === 'analytics' ? 0 : n === 'gateway' ? 1 : STORES.includes(n) ? 2 + STORES.indexOf(n) : 10);
    return rank(a) - rank(b) || a.localeCompare(b);
  });
  const cell = (v: number | undefined) => (v === undefined ? '' : String(round(v)));
  const sum = (m: Map<string, number>, keep: (n: string) => boolean) => [...m].filter(([n]) => keep(n)).reduce((a, [, v]) => a + v, 0);
  return [
    ['process', ...columns.map((c) => c.head)],
    ...names.map((n) => [n, ...perEvent.map((m) => cell(m.get(n)))]),
    ['Kafka + stores', ...perEvent.map((m) => cell(sum(m, (n) => STORES.includes(n))))],
    [
      'worker / (Kafka + stores)',
      ...perEvent.map((m) => {
        const stores = sum(m, (n) => STORES.includes(n));
        const worker = sum(m, (n) => n === 'worker' || n === 'analytics');
        return worker > 0 && stores > 0 ? round(worker / stores).toFixed(2) : '';
      }),
    ],
  ];
}

function ratioRow(x: Ratio): string[] {
  return [x.id, x.title, ratioValue(x), `${x.direction} ${x.target}${x.unit ? ` ${x.unit}` : ''}`, verdict(x)];
}

export function renderMarkdown(r: BenchResult): string {
  const rows = (cells: string[][]) => cells.map((c) => `| ${c.map((x) => x.replace(/\|/g, '\\|')).join(' | ')} |`).join('\n');
  const withRule = ([head, ...body]: string[][]) => rows([head!, head!.map(() => '---'), ...body]);
  const cpu = withRule(cpuTable(r));
  const goals = withRule([['goal', 'what', 'measured', 'target', 'verdict'], ...r.goals.map(ratioRow)]);
  const ratios = withRule([['ratio', 'what', 'measured', 'target', 'verdict'], ...r.ratios.map(ratioRow)]);
  const legs = rows([
    ['leg', 'what', 'throughput', 'latency p50 / p99 / p99.9 ms', 'CPU cores', 'validity'],
    ['---', '---', '---', '---', '---', '---'],
    ...r.legs.map(legLine),
  ]);
  const m = r.machine;
  return [
    `Run of ${r.startedAt} (${r.mode}${r.profiled ? ', profiled: not comparable' : ''}, ${round(r.durationS)} s).`,
    '',
    'Where the CPU goes, µs of a core per event:',
    '',
    cpu,
    '',
    goals,
    '',
    ratios,
    '',
    legs,
    '',
    `Machine: ${m.nproc} cores (${m.cpuModel}), ${round(m.memoryGiB)} GiB memory, ${m.kernel}, Node ${m.node}; load average ${
      m.loadAverageStart.map(round).join(' ')
    } at the start, ${m.loadAverageEnd.map(round).join(' ')} at the end.`,
    '',
    `Kafka bridge: ${r.bridge.outcome}`,
    ...(r.peer ? ['', `Peer of ratio 5: ${r.peer.outcome}`] : []),
  ].join('\n');
}

export function renderHtml(r: BenchResult): string {
  const httpLegs = r.legs.filter((l) => l.distribution?.length);
  const latency = lineChart(
    httpLegs.map((l) => ({ name: l.id, points: l.distribution!.map((d) => ({ x: d.percentile, y: d.ms })) })),
    { title: 'Latency by percentile', xLabel: 'percentile', yLabel: 'ms (log)', x: 'percentile', y: 'log' },
  );
  const e2eLegs = r.legs.filter((l) => l.endToEnd);
  const e2e = lineChart(
    e2eLegs.flatMap((l) => [
      { name: `${l.id} PostgreSQL`, points: pctPoints(l.endToEnd!.postgresMs) },
      { name: `${l.id} ClickHouse`, points: pctPoints(l.endToEnd!.clickhouseMs) },
      ...(l.endToEnd!.allSinksMs ? [{ name: `${l.id} all sinks`, points: pctPoints(l.endToEnd!.allSinksMs) }] : []),
    ]),
    { title: 'End-to-end latency (accepted -> written)', xLabel: 'percentile', yLabel: 'ms (log)', x: 'percentile', y: 'log' },
  );
  const throughputOf = (unit: LegResult['unit']) =>
    lineChart(
      r.legs.filter((l) => l.throughputSeries.length && l.unit === unit).map((l) => ({ name: l.id, points: toXY(l.throughputSeries) })),
      { title: `Throughput over time (${unit})`, xLabel: 'seconds into the leg', yLabel: unit },
    );
  const throughput = throughputOf('req/s') + throughputOf('events/s');
  const lagOf = (kind: LegResult['kind'], title: string) =>
    lineChart(
      r.legs.filter((l) => l.lagSeries?.length && l.kind === kind).map((l) => ({ name: l.id, points: toXY(l.lagSeries!) })),
      { title, xLabel: 'seconds into the leg', yLabel: 'events' },
    );
  const lag = lagOf('drain', 'Consumer-group lag while draining (records not committed)') +
    lagOf('e2e', 'Lag under load (events accepted, not yet announced as applied to every sink)');
  const table = (head: string[], body: string[][]) =>
    `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${
      body
        .map((row) => `<tr>${row.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
        .join('')
    }</tbody></table>`;
  const [cpuHead, ...cpuBody] = cpuTable(r);
  const cpu = table(cpuHead!, cpuBody);
  const goals = table(['goal', 'what', 'measured', 'target', 'verdict'], r.goals.map(ratioRow));
  const ratios = table(['ratio', 'what', 'measured', 'target', 'verdict'], r.ratios.map(ratioRow));
  const legs = table(['leg', 'what', 'throughput', 'latency p50 / p99 / p99.9 ms', 'CPU cores', 'validity'], r.legs.map(legLine));
  const metricRows = r.legs.flatMap((l) =>
    Object.entries(l.metrics ?? {}).map(([name, d]) => {
      const seconds = name.includes('_seconds');
      const v = (x: number) => String(round(seconds ? x * 1000 : x));
      return [l.id, name, String(d.count), v(d.mean), v(d.p50), v(d.p99), seconds ? 'ms' : 'count'];
    })
  );
  const metrics = metricRows.length
    ? `<h2>Where time goes (the processes' own Prometheus histograms over the leg)</h2>${
      table(['leg', 'histogram', 'observations', 'mean', 'p50', 'p99', 'unit'], metricRows)
    }`
    : '';
  const notes = r.legs.filter((l) => l.notes.length).map((l) => `<li><b>${escapeHtml(l.id)}</b>: ${l.notes.map(escapeHtml).join(' ')}</li>`).join('');
  const m = r.machine;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ferry benchmark ${escapeHtml(r.startedAt)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:left}th{background:#f4f4f4}svg{display:block;margin:1em 0;font-family:system-ui,sans-serif}code{background:#f4f4f4;padding:1px 4px}</style>
</head><body>
<h1>Ferry benchmark</h1>
<p>${escapeHtml(r.startedAt)}, ${escapeHtml(r.mode)} mode${r.profiled ? ' (profiled: numbers not comparable)' : ''}, ${round(r.durationS)} s.
Machine: ${m.nproc} cores (${escapeHtml(m.cpuModel)}), ${round(m.memoryGiB)} GiB, ${escapeHtml(m.kernel)}, Node ${escapeHtml(m.node)};
load average ${m.loadAverageStart.map(round).join(' ')} at the start, ${m.loadAverageEnd.map(round).join(' ')} at the end.</p>
<h2>Where the CPU goes (µs of a core per event)</h2>${cpu}
<h2>Goals</h2>${goals}
<h2>Each part against its floor</h2>${ratios}
<h2>Legs</h2>${legs}
<ul>${notes}</ul>
${metrics}
<h2>Charts</h2>${latency}${e2e}${throughput}${lag}
<h2>Kafka bridge</h2><p>${escapeHtml(r.bridge.outcome)}</p><ul>${r.bridge.tried.map((t) => `<li><code>${escapeHtml(t)}</code></li>`).join('')}</ul>
${
    r.peer
      ? `<h2>Peer of ratio 5</h2><p>${escapeHtml(r.peer.outcome)}</p><ul>${r.peer.tried.map((t) => `<li><code>${escapeHtml(t)}</code></li>`).join('')}</ul>`
      : ''
  }
<h2>Reproduce</h2><ul>${r.commands.map((c) => `<li><code>${escapeHtml(c)}</code></li>`).join('')}</ul>
</body></html>
`;
}

function pctPoints(s: { p50: number; p90: number; p99: number; p999: number; max: number; min: number }): { x: number; y: number }[] {
  return [
    { x: 0, y: s.min },
    { x: 50, y: s.p50 },
    { x: 90, y: s.p90 },
    { x: 99, y: s.p99 },
    { x: 99.9, y: s.p999 },
    { x: 99.999, y: s.max },
  ];
}
