/** The fault matrix as a terminal table, Markdown and JSON. */
import type { ChaosRow } from './run-scenario.ts';

const COLUMNS: [string, (r: ChaosRow) => string][] = [
  ['scenario', (r) => `${r.id}. ${r.title}`],
  ['acknowledged', (r) => String(r.acknowledged)],
  ['lost', (r) => String(r.lost)],
  ['duplicated', (r) => String(r.duplicated)],
  ['phantom', (r) => String(r.phantom)],
  ['5xx answered', (r) => String(r.fiveXx)],
  ['2xx below min ISR', (r) => String(r.twoXxBelowMinIsr)],
  ['longest request', (r) => `${(r.longestMs / 1000).toFixed(1)} s`],
  ['time to recover', (r) => `${r.recoverS.toFixed(1)} s`],
  ['verdict', (r) => r.verdict],
];

export function formatTable(rows: ChaosRow[]): string {
  const cells = [COLUMNS.map(([h]) => h), ...rows.map((r) => COLUMNS.map(([, f]) => f(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  const problems = rows.filter((r) => r.problems.length).map((r) => `scenario ${r.id}: ${r.problems.join('; ')}`);
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line), ...problems].join('\n');
}

export function formatMarkdown(rows: ChaosRow[], meta: { startedAt: string; load: string }): string {
  const head = `| ${COLUMNS.map(([h]) => h).join(' | ')} | command |`;
  const sep = `|${COLUMNS.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}| --- |`;
  const body = rows.map((r) => `| ${COLUMNS.map(([, f]) => f(r)).join(' | ')} | \`${r.command}\` |`);
  const problems = rows.filter((r) => r.problems.length).map((r) => `- scenario ${r.id}: ${r.problems.join('; ').replace(/\n/g, ' ')}`);
  return [`Run ${meta.startedAt}; ${meta.load}.`, '', head, sep, ...body, ...(problems.length ? ['', ...problems] : []), ''].join('\n');
}
