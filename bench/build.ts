// Image build benchmark: cold build (empty download cache: apt-get download + npm ci),
// then warm rebuilds from the cache; EIF size against the Node binary. Prints a Markdown
// section for bench/RESULTS.md ("## build"). Run: npm run bench:build
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildImage } from '../reproducible/build-image.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const cache = mkdtempSync(join(tmpdir(), 'bench-build-cache-'));
const out = mkdtempSync(join(tmpdir(), 'bench-build-out-'));
const WARM_RUNS = 3;

async function timed(): Promise<{ seconds: number; size: number; nodeSize: number; pcr0: string }> {
  const start = process.hrtime.bigint();
  const image = await buildImage({ sourceRoot: root, outDir: out, cacheDir: cache, developmentBlobs: true, progress: (m) => process.stderr.write(`  ${m}\n`) });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const node = image.manifest.inputs.find((i) => i.name === 'node-runtime');
  return { seconds, size: image.eif.length, nodeSize: node?.size ?? 0, pcr0: image.manifest.pcrs['0'] };
}

try {
  process.stderr.write('cold build (empty cache)\n');
  const cold = await timed();
  const warm: number[] = [];
  for (let i = 0; i < WARM_RUNS; i++) {
    process.stderr.write(`warm build ${i + 1}/${WARM_RUNS}\n`);
    const r = await timed();
    if (r.pcr0 !== cold.pcr0) throw new Error('warm build measured differently from the cold build');
    warm.push(r.seconds);
  }
  const mb = (n: number): string => (n / 1e6).toFixed(1);
  const sorted = [...warm].sort((a, b) => a - b);
  const lines = [
    '## build',
    '',
    `Machine: ${cpus().length} cores (nproc), ${cpus()[0]?.model ?? 'unknown cpu'}, Node ${process.version}; ${new Date().toISOString().slice(0, 10)}.`,
    'Development blob set (Debian kernel); `npm run bench:build`.',
    '',
    '| measure | value | target |',
    '|---|---|---|',
    `| cold build (empty cache: apt-get download + npm ci) | ${cold.seconds.toFixed(1)} s | — |`,
    `| warm rebuild, median of ${WARM_RUNS} (min ${sorted[0]?.toFixed(1)} s, max ${sorted.at(-1)?.toFixed(1)} s) | ${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)} s | < 60 s |`,
    `| EIF size | ${mb(cold.size)} MB | ≤ Node binary + 25 MB = ${mb(cold.nodeSize + 25e6)} MB |`,
    `| EIF size − Node binary (${mb(cold.nodeSize)} MB) | ${mb(cold.size - cold.nodeSize)} MB | ≤ 25 MB |`,
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  rmSync(cache, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
}
