/**
 * Where a process spent its CPU, from a V8 .cpuprofile (node --cpu-prof): self time by area
 * (a package, a Node internal module, a Ferry file, GC, native code outside JS), and the
 * functions with the most self and inclusive time. Pure except `summarizeProfileFile`.
 *
 * Command line: node --import tsx bench/profile-summary.ts <file.cpuprofile> [...]
 */
import { readFileSync } from 'node:fs';

export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  /** Sampled wall time, ms. */
  totalMs: number;
  /** Time not idle, ms. */
  busyMs: number;
  areas: { area: string; ms: number; share: number }[];
  topSelf: { fn: string; area: string; ms: number; share: number }[];
  topInclusive: { fn: string; area: string; ms: number; share: number }[];
}

const root = new URL('../', import.meta.url).pathname;

/** The area a function belongs to, from its script URL. */
export function areaOf(url: string, functionName: string, projectRoot = root): string {
  if (!url) {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(program)') return 'native (outside JS)';
    return 'native';
  }
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = path.slice(nm + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (path.startsWith('node:')) {
    const parts = path.slice(5).split('/');
    return `node:${parts[0] === 'internal' ? parts.slice(0, 2).join('/') : parts[0]}`;
  }
  if (path.startsWith(projectRoot)) return `ferry: ${path.slice(projectRoot.length)}`;
  return path;
}

export function summarizeProfile(p: CpuProfile, top = 25, projectRoot = root): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let totalUs = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    totalUs += dt;
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + dt);
  }
  const keyOf = (id: number) => {
    const f = byId.get(id)!.callFrame;
    return `${f.functionName || '(anonymous)'} ${areaOf(f.url, f.functionName, projectRoot)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
  };
  const areaOfNode = (id: number) => {
    const f = byId.get(id)!.callFrame;
    return areaOf(f.url, f.functionName, projectRoot);
  };

  const areas = new Map<string, number>();
  const selfByFn = new Map<string, { area: string; us: number }>();
  for (const [id, us] of self) {
    const area = areaOfNode(id);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const k = keyOf(id);
    const e = selfByFn.get(k) ?? { area, us: 0 };
    e.us += us;
    selfByFn.set(k, e);
  }

  // Inclusive time per function: a node's own time plus its subtree's, counted once per
  // function even when it recurses (an ancestor with the same function already counts it).
  const inclusive = new Map<string, { area: string; us: number }>();
  const subtree = new Map<number, number>();
  const sizeOf = (id: number): number => {
    let s = subtree.get(id);
    if (s !== undefined) return s;
    s = self.get(id) ?? 0;
    for (const c of byId.get(id)?.children ?? []) s += sizeOf(c);
    subtree.set(id, s);
    return s;
  };
  const rootNode = p.nodes[0];
  if (rootNode) {
    const stack: { id: number; open: Set<string> }[] = [{ id: rootNode.id, open: new Set() }];
    while (stack.length) {
      const { id, open } = stack.pop()!;
      const k = keyOf(id);
      let next = open;
      if (!open.has(k)) {
        const e = inclusive.get(k) ?? { area: areaOfNode(id), us: 0 };
        e.us += sizeOf(id);
        inclusive.set(k, e);
        next = new Set(open).add(k);
      }
      for (const c of byId.get(id)?.children ?? []) stack.push({ id: c, open: next });
    }
  }

  const idleUs = areas.get('idle') ?? 0;
  const busyUs = totalUs - idleUs;
  const share = (us: number) => (busyUs > 0 ? us / busyUs : 0);
  const ms = (us: number) => Math.round(us / 100) / 10;
  const skip = new Set(['(root)', '(idle)', '(program)', '(garbage collector)']);
  return {
    totalMs: ms(totalUs),
    busyMs: ms(busyUs),
    areas: [...areas].filter(([a]) => a !== 'idle').sort((a, b) => b[1] - a[1]).map(([area, us]) => ({ area, ms: ms(us), share: share(us) })),
    topSelf: [...selfByFn].filter(([k]) => !skip.has(k.split(' ')[0]!)).sort((a, b) => b[1].us - a[1].us).slice(0, top).map(([fn, e]) => ({
      fn,
      area: e.area,
      ms: ms(e.us),
      share: share(e.us),
    })),
    topInclusive: [...inclusive]
      .filter(([k]) => !skip.has(k.split(' ')[0]!))
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, top)
      .map(([fn, e]) => ({ fn, area: e.area, ms: ms(e.us), share: share(e.us) })),
  };
}

export function summarizeProfileFile(path: string, top = 25): ProfileSummary {
  return summarizeProfile(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, top);
}

export function formatProfile(name: string, s: ProfileSummary, lines = 15): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  return [
    `${name}: ${s.busyMs} ms busy of ${s.totalMs} ms sampled`,
    '  self time by area:',
    ...s.areas.slice(0, lines).map((a) => `    ${pct(a.share).padStart(6)}  ${a.area}`),
    '  functions by self time:',
    ...s.topSelf.slice(0, lines).map((f) => `    ${pct(f.share).padStart(6)}  ${f.fn}`),
    '  functions by inclusive time:',
    ...s.topInclusive.slice(0, lines).map((f) => `    ${pct(f.share).padStart(6)}  ${f.fn}`),
  ].join('\n');
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  for (const file of process.argv.slice(2)) process.stdout.write(`${formatProfile(file, summarizeProfileFile(file), 25)}\n\n`);
}
