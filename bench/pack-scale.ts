// Pack at scale (issue 16): how pack time grows with the number of files (1, 10, 50, 200 files
// of 20 keys; 10 files of 200 keys) at 0 and 15 ms KMS round trips, and what one enclave
// sustains at 1, 4 and 16 concurrent packs through the host (its own process). One world, one
// enclave, the emulator's latency switched between rows (seeded jitter ±3 ms at 15 ms).
// Run by bench/pack.ts after its own table, or alone: npx tsx bench/pack-scale.ts
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GenerateRandomCommand } from '@aws-sdk/client-kms';
import { hostConfigFor, startPackWorld, type PackWorld } from '../test/pack-world.ts';
import { ENCLAVE_ROLE } from '../test/kms-harness.ts';
import { collectGitObjects, type CollectedObjects } from '../cli/pack-client/git-objects.ts';
import { clefInputPaths } from '../cli/pack-client/clef-paths.ts';
import { callEnclave } from '../host/enclave-client.ts';
import { parseReceipt } from '../verifier/receipt.ts';
import { parseAttestationDocument } from '../verifier/index.ts';
import { DEFAULT_UNWRAP_CONCURRENCY } from '../enclave/unwrap-pool.ts';
import type { PackPhases } from '../enclave/pack.ts';

const CLI = fileURLToPath(new URL('../bin/attested-pack', import.meta.url));
const TOKEN = 'bench-scale-token-0123456789abcdef';
const LATENCY = { fixedMs: 15, jitterMs: 3, seed: 16 };
const NSM_LATENCY_MS = 2;
/** --quick: 2 packs per row, no throughput (a smoke run while developing). */
const QUICK = process.argv.includes('--quick');

interface Shape {
  identity: string;
  files: number;
  keys: number;
  iterations: number;
}
// The 10-file identity is payments-api: the host configuration authorizes that one.
const SHAPES: Shape[] = [
  { identity: 'files-1', files: 1, keys: 20, iterations: 10 },
  { identity: 'payments-api', files: 10, keys: 20, iterations: 10 },
  { identity: 'files-50', files: 50, keys: 20, iterations: 4 },
  { identity: 'files-200', files: 200, keys: 20, iterations: 3 },
  { identity: 'keys-200', files: 10, keys: 200, iterations: 4 },
];

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};
const ms = (x: number) => `${x.toFixed(1)} ms`;
const peakRssMiB = (pid: number | 'self') => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN) / 1024;

function worldSecrets(): { secrets: Record<string, Record<string, string>>; identities: Record<string, string[]> } {
  const secrets: Record<string, Record<string, string>> = {};
  const ns = (prefix: string, i: number) => `${prefix}${String(i).padStart(3, '0')}`;
  const fill = (keys: number) => Object.fromEntries(Array.from({ length: keys }, (_, k) => [`KEY_${k}`, randomBytes(12).toString('hex')]));
  for (let i = 0; i < 200; i++) secrets[ns('n', i)] = fill(20);
  for (let i = 0; i < 10; i++) secrets[ns('w', i)] = fill(200);
  const identities: Record<string, string[]> = {};
  for (const s of SHAPES) identities[s.identity] = Array.from({ length: s.files }, (_, i) => ns(s.keys === 200 ? 'w' : 'n', i));
  return { secrets, identities };
}

async function packDirect(world: PackWorld, identity: string, objects: CollectedObjects): Promise<number> {
  const t = performance.now();
  await callEnclave(
    { socketPath: world.socketPath },
    'pack',
    {
      identity,
      environment: 'production',
      nonce: randomBytes(32),
      commit: objects.commit,
      objectFormat: objects.objectFormat,
      objects: objects.objects,
      credentials: { accessKeyId: ENCLAVE_ROLE.accessKeyId, secretAccessKey: ENCLAVE_ROLE.secretAccessKey, sessionToken: ENCLAVE_ROLE.sessionToken as string },
      region: 'us-east-1',
      options: {},
    },
    { deadlineMs: 120_000 },
  );
  return performance.now() - t;
}

interface Row {
  shape: Shape;
  latency: number;
  total: number[];
  kms: number[];
}

async function growth(world: PackWorld, phases: PackPhases[], objects: Map<string, CollectedObjects>): Promise<Row[]> {
  const rows: Row[] = [];
  for (const latency of [0, LATENCY.fixedMs]) {
    world.harness.emulator.setLatency(latency === 0 ? undefined : LATENCY);
    for (const shape of SHAPES) {
      const o = objects.get(shape.identity) as CollectedObjects;
      await packDirect(world, shape.identity, o);
      phases.length = 0;
      const total: number[] = [];
      for (let i = 0; i < (QUICK ? 2 : shape.iterations); i++) total.push(await packDirect(world, shape.identity, o));
      rows.push({ shape, latency, total, kms: phases.map((p) => p.kms) });
    }
  }
  return rows;
}

/** p50 of one KMS call from a plain SDK client (TLS, SigV4) at the row's latency. */
async function oneRoundTrip(world: PackWorld): Promise<number> {
  const kms = world.harness.client();
  const xs: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t = performance.now();
    await kms.send(new GenerateRandomCommand({ NumberOfBytes: 32 }));
    xs.push(performance.now() - t);
  }
  return pct(xs.slice(3), 50);
}

function startHostProcess(configFile: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, 'host', '--config', configFile, '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve({ child, url: String((JSON.parse(out.split('\n')[0] as string) as { address: string }).address) });
    });
    child.once('exit', (code) => reject(new Error(`host exited ${String(code)}`)));
  });
}

interface Throughput {
  concurrency: number;
  requests: number;
  ok: number;
  busy: number;
  other: number;
  failures: string[];
  nonceOk: boolean;
  retryAfterOk: boolean;
  packsPerSecond: number;
  p50: number;
  p95: number;
}

async function throughput(url: string, objects: CollectedObjects, concurrency: number, requests: number): Promise<Throughput> {
  const latencies: number[] = [];
  const r = { ok: 0, busy: 0, other: 0, nonceOk: true, retryAfterOk: true, failures: [] as string[] };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < requests) {
      next += 1;
      const nonce = randomBytes(32);
      const t = performance.now();
      const res = await fetch(`${url}/v1/pack`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ identity: 'payments-api', environment: 'production', nonce: nonce.toString('base64'), commit: objects.commit, objectFormat: objects.objectFormat, objects: objects.objects.map((x) => Buffer.from(x).toString('base64')) }),
      });
      const json = (await res.json()) as { receipt?: string; code?: string; error?: { code?: string; detail?: string }; detail?: string };
      if (res.status === 200) {
        latencies.push(performance.now() - t);
        r.ok += 1;
        const doc = parseAttestationDocument(parseReceipt(Buffer.from(json.receipt as string, 'base64')).attestationDocument).document;
        if (doc.nonce === null || !Buffer.from(doc.nonce).equals(nonce)) r.nonceOk = false;
      } else if (res.status === 429) {
        r.busy += 1;
        if (!(Number(res.headers.get('retry-after')) > 0)) r.retryAfterOk = false;
      } else {
        r.other += 1;
        r.failures.push(`${res.status} ${JSON.stringify(json).slice(0, 300)}`);
      }
    }
  };
  const t = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wall = (performance.now() - t) / 1000;
  return { concurrency, requests, ...r, packsPerSecond: r.ok / wall, p50: pct(latencies, 50), p95: pct(latencies, 95) };
}

function report(rows: Row[], rt: number, tp: Throughput[], rss: { self: number; host: number }): string[] {
  const p50 = (id: string, lat: number) => pct(rows.find((r) => r.shape.identity === id && r.latency === lat)?.total ?? [], 50);
  const local10 = p50('payments-api', 0);
  const ten15 = p50('payments-api', LATENCY.fixedMs);
  const two15 = p50('files-200', LATENCY.fixedMs);
  const ok = (b: boolean) => (b ? 'holds' : '**does not hold**');
  const c16 = tp.find((x) => x.concurrency === 16);
  return [
    `### pack at scale (issue 16)`,
    ``,
    `Direct calls to the enclave endpoint (the host adds ~1 ms, table above); the KMS emulator runs on its own thread (its SigV4, attestation and CMS work is AWS's, not the enclave's); KMS Decrypt+Recipient per distinct data key, ${DEFAULT_UNWRAP_CONCURRENCY} at once (default), one Recipient document per pack; NSM attestation ${NSM_LATENCY_MS} ms; KMS latency model ${LATENCY.fixedMs} ± ${LATENCY.jitterMs} ms (seed ${LATENCY.seed}) per request, or 0.`,
    ``,
    `| shape | KMS latency | packs | p50 | p95 | KMS phase p50 (wall) |`,
    `|---|---:|---:|---:|---:|---:|`,
    ...rows.map((r) => `| ${r.shape.files} files × ${r.shape.keys} keys | ${r.latency} ms | ${r.total.length} | ${ms(pct(r.total, 50))} | ${ms(pct(r.total, 95))} | ${ms(pct(r.kms, 50))} |`),
    ``,
    `- One KMS round trip at ${LATENCY.fixedMs} ms (plain SDK GenerateRandom, p50): ${ms(rt)}. Local work for 10 files × 20 keys = the 0 ms row's p50: ${ms(local10)}.`,
    `- 10 files at ${LATENCY.fixedMs} ms: p50 ${ms(ten15)} ≤ 3 × ${ms(rt)} + ${ms(local10)} = ${ms(3 * rt + local10)}: ${ok(ten15 <= 3 * rt + local10)}.`,
    `- 200 files at ${LATENCY.fixedMs} ms: p50 ${ms(two15)} ≤ 4 × the 10-file p50 = ${ms(4 * ten15)}: ${ok(two15 <= 4 * ten15)}.`,
    ``,
    `Throughput through the host (its own process, default limits: 2 packs at once, 16 queued), 10 files × 20 keys, KMS ${LATENCY.fixedMs} ms:`,
    ``,
    `| concurrent clients | requests | packed | 429 (all with Retry-After) | other failures | every receipt has its own nonce | packs/s | p50 | p95 |`,
    `|---:|---:|---:|---:|---:|---|---:|---:|---:|`,
    ...tp.map((x) => `| ${x.concurrency} | ${x.requests} | ${x.ok} | ${x.busy}${x.retryAfterOk ? '' : ' (some without!)'} | ${x.other} | ${x.nonceOk ? 'yes' : '**no**'} | ${x.packsPerSecond.toFixed(1)} | ${ms(x.p50)} | ${ms(x.p95)} |`),
    ``,
    ...tp.flatMap((x) => x.failures.map((f) => `- failure at ${x.concurrency} concurrent: ${f}`)),
    `- 16 concurrent: ${c16 !== undefined && c16.other === 0 && c16.nonceOk && c16.retryAfterOk ? 'no failures other than 429 with Retry-After; every receipt carries its own nonce' : '**failures other than 429, or a receipt without its nonce**'}.`,
    `- Peak RSS (VmHWM): host process ${rss.host.toFixed(1)} MiB; bench process ${rss.self.toFixed(1)} MiB — it runs the enclave *and* the KMS emulator (worker thread), egress proxy and git/bench code, so it bounds the enclave's peak from above (200-file packs included).`,
  ];
}

export async function packScale(): Promise<string[]> {
  const { secrets, identities } = worldSecrets();
  const phases: PackPhases[] = [];
  const world = await startPackWorld({ secrets, identities, kmsInWorker: true, recordRelayed: false });
  await world.startEnclave(undefined, { observe: (p) => phases.push(p), nsmLatency: { fixedMs: NSM_LATENCY_MS } });
  const dir = mkdtempSync(join(tmpdir(), 'bench-scale-'));
  let host: ChildProcess | undefined;
  try {
    const clef = readFileSync(join(world.repoDir, 'clef.yaml'), 'utf8');
    const objects = new Map<string, CollectedObjects>();
    for (const s of SHAPES) objects.set(s.identity, await collectGitObjects({ repoDir: world.repoDir, paths: clefInputPaths(clef, s.identity, 'production') }));
    const rows = await growth(world, phases, objects);
    const rt = await oneRoundTrip(world);
    writeFileSync(join(dir, 'host.json'), JSON.stringify(hostConfigFor(world, dir, { token: TOKEN, logLevel: 'silent' })));
    const started = await startHostProcess(join(dir, 'host.json'));
    host = started.child;
    const tp: Throughput[] = [];
    for (const c of QUICK ? [] : [1, 4, 16]) tp.push(await throughput(started.url, objects.get('payments-api') as CollectedObjects, c, Math.max(8, c * 2)));
    return report(rows, rt, tp, { self: peakRssMiB('self'), host: peakRssMiB(host.pid as number) });
  } finally {
    host?.kill('SIGTERM');
    world.harness.emulator.setLatency(undefined);
    await world.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  process.stdout.write(`${(await packScale()).join('\n')}\n`);
}
