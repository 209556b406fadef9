// Load: 200 pack requests at concurrency 20 against the host (its own process, so its
// memory is its own) in front of the simulated enclave with the real pack handler. Every
// request must end in a pack whose receipt carries *its* nonce, or in a 429 with
// Retry-After — none lost, none answered twice or with another request's result.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostConfigFor, startPackWorld, type PackWorld } from './pack-world.ts';
import { collectGitObjects, type CollectedObjects } from '../cli/pack-client/git-objects.ts';
import { clefInputPaths } from '../cli/pack-client/clef-paths.ts';
import { parseReceipt } from '../verifier/receipt.ts';
import { parseAttestationDocument } from '../verifier/index.ts';

const CLI = fileURLToPath(new URL('../bin/attested-pack', import.meta.url));
const TOKEN = 'load-test-token-0123456789abcdef';
const REQUESTS = 200;
const CONCURRENCY = 20;

let world: PackWorld;
let dir: string;
let host: ChildProcess;
let hostUrl: string;
let objects: CollectedObjects;

function peakRssKiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN);
}

beforeAll(async () => {
  world = await startPackWorld();
  await world.startEnclave();
  dir = mkdtempSync(join(tmpdir(), 'pack-load-'));
  writeFileSync(
    join(dir, 'host.json'),
    JSON.stringify(hostConfigFor(world, dir, { token: TOKEN, limits: { maxConcurrentPacks: 2, maxQueuedPacks: 16, packDeadlineMs: 120_000 } })),
  );
  host = spawn(process.execPath, [CLI, 'host', '--config', join(dir, 'host.json'), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  hostUrl = await new Promise<string>((resolve, reject) => {
    let out = '';
    host.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(String((JSON.parse(out.split('\n')[0] as string) as { address: string }).address));
    });
    host.once('exit', (code) => reject(new Error(`host exited ${String(code)}`)));
  });
  const clef = readFileSync(join(world.repoDir, 'clef.yaml'), 'utf8');
  objects = await collectGitObjects({ repoDir: world.repoDir, paths: clefInputPaths(clef, 'payments-api', 'production') });
}, 120_000);

afterAll(async () => {
  host?.kill('SIGTERM');
  await world?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('host under load', () => {
  it(`${REQUESTS} packs at concurrency ${CONCURRENCY}: each packs with its own nonce or gets 429, none lost`, async () => {
    const body = (nonce: Buffer) =>
      JSON.stringify({
        identity: 'payments-api',
        environment: 'production',
        nonce: nonce.toString('base64'),
        commit: objects.commit,
        objectFormat: objects.objectFormat,
        objects: objects.objects.map((o) => Buffer.from(o).toString('base64')),
        proof: world.proofFor({ identity: 'payments-api', environment: 'production', commit: objects.commit, nonce, options: {} }),
      });
    const outcomes: Array<{ status: number; nonceOk?: boolean; retryAfter?: string | null; requestId?: string }> = [];
    let next = 0;
    let rssPeak = 0;
    const sampler = setInterval(() => {
      if (host.pid !== undefined) rssPeak = Math.max(rssPeak, peakRssKiB(host.pid));
    }, 200);
    const worker = async (): Promise<void> => {
      while (next < REQUESTS) {
        next += 1;
        const nonce = randomBytes(32);
        const res = await fetch(`${hostUrl}/v1/pack`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: body(nonce) });
        const json = (await res.json()) as { receipt?: string; requestId?: string };
        if (res.status === 200) {
          const receipt = parseReceipt(Buffer.from(json.receipt as string, 'base64'));
          const doc = parseAttestationDocument(receipt.attestationDocument).document;
          outcomes.push({ status: 200, nonceOk: doc.nonce !== null && Buffer.from(doc.nonce).equals(nonce), ...(json.requestId === undefined ? {} : { requestId: json.requestId }) });
        } else {
          outcomes.push({ status: res.status, retryAfter: res.headers.get('retry-after') });
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    clearInterval(sampler);
    rssPeak = Math.max(rssPeak, peakRssKiB(host.pid as number));

    const ok = outcomes.filter((o) => o.status === 200);
    const busy = outcomes.filter((o) => o.status === 429);
    console.log(`load: ${REQUESTS} requests, concurrency ${CONCURRENCY}: ${ok.length} packed, ${busy.length} × 429; host peak RSS ${(rssPeak / 1024).toFixed(1)} MiB`);
    expect(outcomes).toHaveLength(REQUESTS);
    expect(ok.length + busy.length).toBe(REQUESTS);
    expect(ok.length).toBeGreaterThan(0);
    expect(ok.every((o) => o.nonceOk === true)).toBe(true);
    expect(new Set(ok.map((o) => o.requestId)).size).toBe(ok.length);
    expect(busy.every((o) => o.retryAfter !== null && Number(o.retryAfter) > 0)).toBe(true);
    // Bounded: the host holds at most maxConcurrent + maxQueued (18) request bodies at a time.
    expect(rssPeak).toBeLessThan(256 * 1024);
  }, 600_000);
});
