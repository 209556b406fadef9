// CLI start-up cost against bare Node, in the same run: `node -e 0`, `attested-pack
// --help`, and `attested-pack verify receipt` on one receipt (simulated issuer; --root,
// --json). Wall time: commands run interleaved, RUNS times each; the median is reported
// and compared with bare node's median (goal ≤ 3×). Peak RSS: /usr/bin/time -f %M
// (maximum resident set size of the process), median of the same number of runs
// (goal ≤ 70 MB). Runs the compiled JavaScript, as users do (npm run build first).
// Run: npm run bench:cli-startup. Writes "## cli-startup" in bench/RESULTS.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serializeBuildManifest } from '../verifier/build-manifest.ts';
import { makeReceipt, sampleManifest, testCa } from '../test/receipt-fixtures.ts';
import { writeResultsSection } from './results-file.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'attested-pack');
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const GNU_TIME = '/usr/bin/time';
const WALL_GOAL = 3;
const RSS_GOAL_MB = 70;

interface Case { name: string; argv: string[]; wall: number[]; rssKb: number[] }

const build = spawnSync(process.execPath, [join(ROOT, 'scripts', 'compile.mjs')], { stdio: 'inherit' });
if (build.status !== 0) throw new Error('npm run build failed');

const dir = mkdtempSync(join(tmpdir(), 'ap-bench-cli-'));
const ca = await testCa();
writeFileSync(join(dir, 'receipt.json'), (await makeReceipt()).receipt);
writeFileSync(join(dir, 'manifest.json'), serializeBuildManifest(sampleManifest()));
writeFileSync(join(dir, 'root.pem'), ca.rootPem);

const cases: Case[] = [
  { name: 'node -e 0 (bare node)', argv: ['-e', '0'], wall: [], rssKb: [] },
  { name: 'attested-pack --help', argv: [BIN, '--help'], wall: [], rssKb: [] },
  { name: 'attested-pack verify receipt (one receipt, --json)', argv: [BIN, 'verify', 'receipt', 'receipt.json', '--manifest', 'manifest.json', '--root', 'root.pem', '--json'], wall: [], rssKb: [] },
];

function runOnce(c: Case): void {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, c.argv, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  c.wall.push(Number(process.hrtime.bigint() - t) / 1e6);
  if (r.status !== 0) throw new Error(`${c.name} exited ${r.status}: ${r.stderr.toString()}`);
}

function rssOnce(c: Case): void {
  const r = spawnSync(GNU_TIME, ['-f', '%M', process.execPath, ...c.argv], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${c.name} exited ${r.status}: ${r.stderr.toString()}`);
  const kb = Number(r.stderr.toString().trim().split('\n').at(-1));
  if (!Number.isFinite(kb)) throw new Error(`unexpected /usr/bin/time output: ${r.stderr.toString()}`);
  c.rssKb.push(kb);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

for (const c of cases) runOnce(c); // warm-up: file cache, compiled code cache
for (let i = 0; i < RUNS; i++) for (let k = 0; k < cases.length; k++) runOnce(cases[(k + i) % cases.length] as Case);
const haveTime = existsSync(GNU_TIME);
if (haveTime) for (let i = 0; i < RUNS; i++) for (const c of cases) rssOnce(c);
rmSync(dir, { recursive: true, force: true });

const bare = median((cases[0] as Case).wall);
const rows = cases.map((c) => {
  const wall = median(c.wall);
  const rssMb = haveTime ? median(c.rssKb) / 1024 : NaN;
  return { name: c.name, wall, min: Math.min(...c.wall), ratio: wall / bare, rssMb };
});
for (const r of rows) {
  console.log(`${r.name.padEnd(52)} median ${r.wall.toFixed(0).padStart(5)} ms (min ${r.min.toFixed(0)})  ${r.ratio.toFixed(2)}× bare  ${Number.isNaN(r.rssMb) ? '' : `${r.rssMb.toFixed(1)} MB peak RSS`}`);
}

const cpu = cpus()[0]?.model ?? 'unknown';
const verdict = (r: (typeof rows)[number]): string => (r.ratio <= WALL_GOAL && (Number.isNaN(r.rssMb) || r.rssMb <= RSS_GOAL_MB) ? 'yes' : 'NO');
const section = `## cli-startup

Start-up cost of the compiled CLI against bare Node in the same run, \`npm run bench:cli-startup\`.
Machine: ${cpus().length} × ${cpu}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)} (load average at the end:
${loadavg().map((l) => l.toFixed(1)).join(' ')}). Each command ran ${RUNS} times, interleaved; wall time is the median
(spawn to exit, as a shell sees it), peak RSS the median of ${RUNS} runs under \`/usr/bin/time -f %M\`.
Goals: ≤ ${WALL_GOAL}× bare node's wall time, ≤ ${RSS_GOAL_MB} MB peak RSS.

| command | wall (median) | fastest | × bare node | peak RSS | within goals |
|---|---:|---:|---:|---:|---|
${rows.map((r, i) => `| ${r.name} | ${r.wall.toFixed(0)} ms | ${r.min.toFixed(0)} ms | ${r.ratio.toFixed(2)} | ${Number.isNaN(r.rssMb) ? 'n/a' : `${r.rssMb.toFixed(1)} MB`} | ${i === 0 ? '—' : verdict(r)} |`).join('\n')}

- The CLI runs JavaScript compiled by \`npm run build\` (no TypeScript compiler at run time) and
  loads only the chosen command's module: \`--help\` loads the dispatcher and the command
  registry, \`verify receipt\` the verifier (Node built-ins only, no npm package).
- The receipt is made by the simulated issuer (test/receipt-fixtures.ts) and checked with
  \`--root\`; the work is the same as for an AWS-rooted receipt (chain of the same length,
  same signatures).
`;
writeResultsSection('cli-startup', section);
