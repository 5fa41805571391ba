/** The Kafka bridge comparison: not implemented (docs/benchmarks.md); reports what was tried. */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import type { BenchResult } from './bench-result.ts';

/** Whether the Strimzi Kafka bridge's jars can be had here (Maven), and what became of its legs. */
export async function tryBridge(root: string): Promise<BenchResult['bridge']> {
  const libs = `${root}bench/.dist/kafka-bridge/libs`;
  const tried: string[] = [];
  const has = () => existsSync(libs) && readdirSync(libs).some((f) => /^kafka-bridge-.*\.jar$/.test(f));
  if (!has()) {
    const cmd = ['-B', '-q', '-U', '-f', `${root}bench/bridge/pom.xml`, 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${libs}`];
    tried.push(`mvn ${cmd.join(' ').replace(root, '')}`);
    try {
      execFileSync('mvn', cmd, { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      const out = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`;
      const line = out.split('\n').find((l) => l.includes('ERROR'))?.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '').trim() ??
        (err as Error).message;
      tried.push(`-> ${line.slice(0, 400)}`);
    }
    const meta = 'https://repo.maven.apache.org/maven2/io/strimzi/kafka-bridge/maven-metadata.xml';
    const status = await fetch(meta, { signal: AbortSignal.timeout(20_000) }).then((r) => String(r.status)).catch((e: Error) => e.message);
    tried.push(`GET ${meta} -> ${status}`);
  }
  if (!has()) {
    return {
      available: false,
      tried,
      outcome:
        'not run: io.strimzi:kafka-bridge does not resolve from Maven Central as this machine reaches it (every version, its POM and its metadata answer 404 here, although central.sonatype.com lists 0.32.0).',
    };
  }
  return { available: true, tried, outcome: 'jars present in bench/.dist/kafka-bridge/libs, but the bridge legs are not implemented: see docs/benchmarks.md.' };
}
