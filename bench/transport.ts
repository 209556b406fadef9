// Transport costs around the pack: git object verification (SHA-1 and SHA-256), the
// host↔enclave frame codec, and a host round trip (HTTP → auth → enclave over a Unix socket
// → a no-op pack handler → back), sequential and under concurrency. Run: npx tsx bench/transport.ts
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectGitObjects } from '../cli/pack-client/git-objects.ts';
import { openCommit } from '../enclave/git/index.ts';
import { FrameDecoder, encodeFrame } from '../enclave/protocol.ts';
import { TOKEN_DEV, startHarness } from '../test/host-support.ts';

const gitEnv = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' };

function repoWith(format: 'sha1' | 'sha256', namespaces: number, bytes: number): { dir: string; paths: string[] } {
  const dir = mkdtempSync(join(tmpdir(), `bench-git-${format}-`));
  execFileSync('git', ['init', '-q', `--object-format=${format}`], { cwd: dir, env: gitEnv });
  const paths = ['clef.yaml'];
  writeFileSync(join(dir, 'clef.yaml'), 'version: 1\n');
  for (let i = 0; i < namespaces; i++) {
    mkdirSync(join(dir, 'secrets', `ns${i}`), { recursive: true });
    for (const env of ['dev', 'staging', 'production']) writeFileSync(join(dir, 'secrets', `ns${i}`, `${env}.enc.yaml`), `${i} ${env}\n${'x'.repeat(bytes)}`);
    paths.push(`secrets/ns${i}/production.enc.yaml`);
  }
  execFileSync('git', ['add', '-A'], { cwd: dir, env: gitEnv });
  execFileSync('git', ['commit', '-q', '-m', 'b'], { cwd: dir, env: gitEnv });
  return { dir, paths };
}

function timeIt(minMs: number, fn: () => void): { perSec: number; msEach: number } {
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < minMs) {
    fn();
    n++;
  }
  const ms = performance.now() - start;
  return { perSec: (n * 1000) / ms, msEach: ms / n };
}

const rows: string[] = [];
for (const format of ['sha1', 'sha256'] as const) {
  const { dir, paths } = repoWith(format, 100, 4096);
  const c = await collectGitObjects({ repoDir: dir, paths });
  const total = c.objects.reduce((s, o) => s + o.length, 0);
  const r = timeIt(1000, () => {
    const snap = openCommit({ objects: c.objects, format, commit: c.commit });
    for (const p of paths) snap.readFile(p);
  });
  rows.push(`| git verify + read ${paths.length} files (${c.objects.length} objects, ${(total / 1024).toFixed(0)} KiB), ${format} | ${r.msEach.toFixed(2)} ms |`);
  rmSync(dir, { recursive: true, force: true });
}

const big = { id: 'b', type: 'pack', body: { objects: Array.from({ length: 64 }, () => Buffer.alloc(256 * 1024, 7)) } };
const frame = encodeFrame(big);
const enc = timeIt(1000, () => encodeFrame(big));
// As a socket delivers it: 64 KiB chunks.
const chunks: Uint8Array[] = [];
for (let i = 0; i < frame.length; i += 65536) chunks.push(frame.subarray(i, i + 65536));
const dec = timeIt(1000, () => {
  const d = new FrameDecoder();
  for (const ch of chunks) d.push(ch);
});
rows.push(`| frame encode, 16 MiB of objects | ${enc.msEach.toFixed(1)} ms (${((16 * 1000) / enc.msEach).toFixed(0)} MiB/s) |`);
rows.push(`| frame decode, 16 MiB of objects | ${dec.msEach.toFixed(1)} ms (${((16 * 1000) / dec.msEach).toFixed(0)} MiB/s) |`);

const h = await startHarness({ handler: async () => ({ artifact: Buffer.from('a'), receipt: Buffer.from('r') }), limits: 'limits: { maxConcurrentPacks: 4, maxQueuedPacks: 64 }' });
const { dir, paths } = repoWith('sha1', 5, 1024);
const c = await collectGitObjects({ repoDir: dir, paths });
const body = JSON.stringify({
  identity: 'api-svc',
  environment: 'dev',
  nonce: Buffer.alloc(32, 1).toString('base64'),
  commit: c.commit,
  objectFormat: 'sha1',
  objects: c.objects.map((o) => Buffer.from(o).toString('base64')),
});
const call = async () => {
  const t = performance.now();
  const res = await fetch(`${h.url}/v1/pack`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN_DEV}` }, body });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`status ${res.status}`);
  return performance.now() - t;
};
for (let i = 0; i < 20; i++) await call();
const seq: number[] = [];
for (let i = 0; i < 200; i++) seq.push(await call());
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)] as number;
rows.push(`| host round trip, sequential (200 calls, no-op handler) | p50 ${pct(seq, 0.5).toFixed(2)} ms, p95 ${pct(seq, 0.95).toFixed(2)} ms |`);
const t0 = performance.now();
const conc = await Promise.all(Array.from({ length: 200 }, () => call()));
const wall = performance.now() - t0;
rows.push(`| host round trip, 200 concurrent clients (4 packs running, rest queued) | ${((200 * 1000) / wall).toFixed(0)} req/s, p95 ${pct(conc, 0.95).toFixed(1)} ms |`);
await h.close();
rmSync(dir, { recursive: true, force: true });

const cpu = cpus()[0]?.model ?? 'unknown';
const load = (await import('node:os')).loadavg()[0]?.toFixed(1);
console.log(`Machine: ${cpus().length} cores, ${cpu}, Node ${process.version}; load average ${load} while running; ${new Date().toISOString().slice(0, 10)}.\n`);
console.log('| measure | value |\n|---|---|');
for (const r of rows) console.log(r);
