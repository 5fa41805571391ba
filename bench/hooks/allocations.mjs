// Where a gateway or worker the benchmark starts allocates, collected objects included (V8's
// sampling heap profiler; a CPU profile shows GC time, not who made the garbage):
//   BENCH_NODE_FLAGS="--import ./bench/hooks/allocations.mjs" npm run bench -- --legs d
// At exit each gateway or worker process writes bench/results/allocations-<role>-<pid>.txt: bytes
// allocated in all, then the 40 functions that allocated most, with their share.
/* global process, URL */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const entry = process.argv.find((a) => a.endsWith('workers/main.ts') || a.endsWith('gateway/main.ts'));
if (entry) {
  const role = entry.endsWith('workers/main.ts') ? 'worker' : 'gateway';
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.enable');
  session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    // The inspector, connected on this thread, answers synchronously, so this works inside an 'exit' handler.
    session.post('HeapProfiler.stopSampling', (err, result) => {
      if (err) return;
      const bytes = new Map();
      const walk = (node) => {
        const f = node.callFrame;
        const where = `${f.functionName || '(anonymous)'} ${
          f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(gateway|workers|schemas|lib)\//, '$1/')
        }:${f.lineNumber + 1}`;
        if (node.selfSize) bytes.set(where, (bytes.get(where) ?? 0) + node.selfSize);
        for (const child of node.children) walk(child);
      };
      walk(result.profile.head);
      const total = [...bytes.values()].reduce((a, b) => a + b, 0);
      const top = [...bytes.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40);
      const dir = new URL('../results/', import.meta.url);
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        new URL(`allocations-${role}-${process.pid}.txt`, dir),
        `${(total / 1e6).toFixed(0)} MB allocated (sampled)\n` + top.map(([w, b]) =>
          `${((100 * b) / total).toFixed(1).padStart(5)} %  ${(b / 1e6).toFixed(0).padStart(5)} MB  ${w}`
        ).join('\n') + '\n',
      );
    });
  };
  process.on('exit', write);
}
