// The whole pack path, for a 10-namespace × 20-key identity: latency p50/p95 with a
// breakdown (git verify, KMS incl. attestation, crypto, receipt); the host's own overhead
// (through POST /v1/pack vs calling the enclave endpoint directly, same run); and the plain
// baseline a CI runner would do today: the real `sops -d` per file against the same KMS
// (emulator) + assembling the JSON — in the same run, on the same repo.
// Then bench/pack-scale.ts: growth with files and keys at 0 and 15 ms KMS latency, throughput at
// 1, 4 and 16 concurrent packs, peak RSS.
// Usage: npx tsx bench/pack.ts [--iterations N]
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parse as parseYaml } from 'yaml';
import { hostConfigFor, startPackWorld, type PackWorld } from '../test/pack-world.ts';
import { CI_USER, ENCLAVE_ROLE } from '../test/kms-harness.ts';
import { collectGitObjects, type CollectedObjects } from '../cli/pack-client/git-objects.ts';
import { clefInputPaths, REPO_RULES_PATH } from '../cli/pack-client/clef-paths.ts';
import { requestPack } from '../cli/pack-client/host-client.ts';
import { callEnclave } from '../host/enclave-client.ts';
import { parseHostConfig } from '../host/config.ts';
import { hostLogger, startHost } from '../host/service.ts';
import { openCommit } from '../enclave/git/index.ts';
import { startEnclaveServer } from '../enclave/server.ts';
import { createSimulatedNsm } from '../simulator/nsm.ts';
import { findSopsBinary } from '../cli/demo/sample-repo.ts';
import type { PackPhases } from '../enclave/pack.ts';
import { packScale } from './pack-scale.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const run = promisify(execFile);
const NAMESPACES = 10;
const KEYS = 20;
const iterations = Number(process.argv[process.argv.indexOf('--iterations') + 1] ?? 0) || 30;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}
const f = (ms: number) => `${ms.toFixed(1)} ms`;

async function main(): Promise<void> {
  const secrets: Record<string, Record<string, string>> = {};
  for (let n = 0; n < NAMESPACES; n++) {
    secrets[`ns${n}`] = Object.fromEntries(Array.from({ length: KEYS }, (_, k) => [`KEY_${k}`, `value-${n}-${k}-${randomBytes(8).toString('hex')}`]));
  }
  const phases: PackPhases[] = [];
  const world: PackWorld = await startPackWorld({ secrets });
  await world.startEnclave(undefined, { observe: (p) => phases.push(p) });
  const dir = mkdtempSync(join(tmpdir(), 'bench-pack-'));
  const TOKEN = 'bench-token-0123456789abcdef';
  const hostConfigJson = hostConfigFor(world, dir, { token: TOKEN, logLevel: 'silent' });
  const host = await startHost(parseHostConfig(JSON.stringify(hostConfigJson), dir), { logger: hostLogger('silent') });
  try {
    const clef = readFileSync(join(world.repoDir, 'clef.yaml'), 'utf8');
    const paths = clefInputPaths(clef, 'payments-api', 'production');
    const objects: CollectedObjects = await collectGitObjects({ repoDir: world.repoDir, paths });
    const creds = { accessKeyId: ENCLAVE_ROLE.accessKeyId, secretAccessKey: ENCLAVE_ROLE.secretAccessKey, sessionToken: ENCLAVE_ROLE.sessionToken as string };

    // Honest CI: every request carries an OIDC token bound to exactly that request (minted
    // before the clock starts: the runner's token service is not the enclave's work).
    const request = () => {
      const nonce = randomBytes(32);
      const b = { identity: 'payments-api', environment: 'production', nonce, commit: objects.commit, objectFormat: objects.objectFormat, objects: objects.objects, credentials: creds, region: 'us-east-1', options: {} };
      return { ...b, proof: world.proofFor(b) };
    };
    const direct = async () => {
      const b = request();
      const t = performance.now();
      await callEnclave({ socketPath: world.socketPath }, 'pack', b, { deadlineMs: 60_000 });
      return performance.now() - t;
    };
    const viaHost = async () => {
      const b = request();
      const t = performance.now();
      await requestPack({ hostUrl: host.address, token: TOKEN, identity: 'payments-api', environment: 'production', nonce: b.nonce, objects, proof: b.proof });
      return performance.now() - t;
    };
    const gitVerify = () => {
      const t = performance.now();
      const snap = openCommit({ objects: objects.objects, format: objects.objectFormat, commit: objects.commit });
      for (const p of paths) snap.readFile(p);
      return performance.now() - t;
    };

    // Host overhead, isolated: a stub enclave answering instantly with a real artifact and
    // receipt, reached directly and through a second host; paired, so noise cancels.
    const sample = await callEnclave({ socketPath: world.socketPath }, 'pack', request(), { deadlineMs: 60_000 });
    const stubSocket = join(dir, 'stub.sock');
    const stub = await startEnclaveServer(stubSocket, {
      nsm: createSimulatedNsm({ ca: world.ca, pcrs: world.manifest }),
      packHandler: async () => ({ artifact: sample.artifact, receipt: sample.receipt }),
    });
    // fastify's request log carries each request's server-side responseTime.
    const packRequests = new Set<string>();
    const serverMs: number[] = [];
    const logSink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) {
          if (line === '') continue;
          const e = JSON.parse(line) as { reqId?: string; msg?: string; req?: { url?: string }; responseTime?: number };
          if (e.msg === 'incoming request' && e.req?.url === '/v1/pack' && e.reqId !== undefined) packRequests.add(e.reqId);
          if (e.msg === 'request completed' && e.reqId !== undefined && packRequests.has(e.reqId) && e.responseTime !== undefined) serverMs.push(e.responseTime);
        }
        done();
      },
    });
    const stubHost = await startHost(
      parseHostConfig(JSON.stringify({ ...hostConfigJson, enclave: { socketPath: stubSocket } }), dir),
      { logger: hostLogger('info', logSink) },
    );
    // The host's own share, server side: its request-duration histogram (sum/count for
    // /v1/pack, read from /metrics) against the direct calls to the same stub.
    const packMetric = async (): Promise<{ sum: number; count: number }> => {
      const text = await (await fetch(`${stubHost.address}/metrics`)).text();
      const get = (suffix: string) => Number(new RegExp(`attested_pack_http_request_duration_seconds_${suffix}\\{route="/v1/pack"\\} ([0-9.e+-]+)`).exec(text)?.[1] ?? NaN);
      return { sum: get('sum'), count: get('count') };
    };
    const overhead: number[] = [];
    const directStub: number[] = [];
    let before = { sum: 0, count: 0 };
    for (let i = 0; i < 20 + iterations * 5; i++) {
      if (i === 20) before = await packMetric();
      let t = performance.now();
      await callEnclave(
        { socketPath: stubSocket },
        'pack',
        { identity: 'payments-api', environment: 'production', nonce: randomBytes(32), commit: objects.commit, objectFormat: objects.objectFormat, objects: objects.objects, credentials: creds, region: 'us-east-1', options: {} },
        { deadlineMs: 60_000 },
      );
      const directMs = performance.now() - t;
      t = performance.now();
      await requestPack({ hostUrl: stubHost.address, token: TOKEN, identity: 'payments-api', environment: 'production', nonce: randomBytes(32), objects });
      const hostMs = performance.now() - t;
      if (i >= 20) {
        overhead.push(hostMs - directMs);
        directStub.push(directMs);
      } else serverMs.length = 0;
    }
    const after = await packMetric();
    const serverSideMean = ((after.sum - before.sum) / (after.count - before.count)) * 1000;
    const hostOwnMean = serverSideMean - directStub.reduce((a, b) => a + b, 0) / directStub.length;
    await stubHost.close();
    await stub.close();

    for (let i = 0; i < 3; i++) {
      await direct();
      await viaHost();
    }
    phases.length = 0;
    const d: number[] = [];
    const h: number[] = [];
    const g: number[] = [];
    // Interleaved so load on the machine affects both paths alike.
    for (let i = 0; i < iterations; i++) {
      d.push(await direct());
      h.push(await viaHost());
      g.push(gitVerify());
    }
    const enclavePhases = phases.slice(0, phases.length);

    // Baseline: the real sops binary per file, then the same JSON assembly.
    const sops = findSopsBinary();
    const baseline: number[] = [];
    if (sops !== undefined) {
      const env = {
        PATH: process.env.PATH,
        HOME: dir,
        AWS_ENDPOINT_URL_KMS: world.harness.emulator.endpoint,
        SSL_CERT_FILE: world.harness.emulator.caFile,
        AWS_CA_BUNDLE: world.harness.emulator.caFile,
        AWS_ACCESS_KEY_ID: CI_USER.accessKeyId,
        AWS_SECRET_ACCESS_KEY: CI_USER.secretAccessKey,
        AWS_REGION: 'us-east-1',
        AWS_EC2_METADATA_DISABLED: 'true',
      };
      // Under the attested policy nobody may Decrypt without the enclave's attestation —
      // that is the point. Today's pipeline has no such policy: put the key back on the
      // account-wide default before measuring the baseline on the same files and key.
      const { ADMIN } = await import('../test/kms-harness.ts');
      const { PutKeyPolicyCommand } = await import('@aws-sdk/client-kms');
      const permissive = { Version: '2012-10-17', Statement: [{ Sid: 'AccountRoot', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' }] };
      await world.harness.client(ADMIN).send(new PutKeyPolicyCommand({ KeyId: world.keys.sops, PolicyName: 'default', Policy: JSON.stringify(permissive), BypassPolicyLockoutSafetyCheck: true }));
      const files = paths.filter((p) => p !== 'clef.yaml' && p !== REPO_RULES_PATH);
      // Asynchronous spawns: the emulator runs in this process and must keep answering.
      const runOnce = async () => {
        const t = performance.now();
        const out: Record<string, Record<string, string>> = {};
        for (const file of files) {
          const { stdout: plain } = await run(sops, ['decrypt', join(world.repoDir, file)], { env, encoding: 'utf8' });
          const doc = parseYaml(plain) as Record<string, unknown>;
          out[file.split('/')[1] as string] = Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, String(v)]));
        }
        JSON.stringify(out);
        return performance.now() - t;
      };
      try {
        await runOnce();
        for (let i = 0; i < Math.min(iterations, 10); i++) baseline.push(await runOnce());
      } catch (e) {
        process.stderr.write(`baseline skipped: ${(e as Error).message.split('\n')[0]}\n`);
      }
    }

    const cpu = cpus()[0]?.model ?? 'unknown';
    const lines = [
      `## pack`,
      ``,
      `Whole pack path for one identity with ${NAMESPACES} namespaces × ${KEYS} keys (KMS-encrypted SOPS files), ${iterations} iterations each,`,
      `interleaved; \`npm run bench:pack\`. Machine: ${cpus().length} × ${cpu}, Node ${process.version}, load average ${loadavg()[0]?.toFixed(1)}; ${new Date().toISOString().slice(0, 10)}.`,
      `KMS is the emulator over TLS + SigV4 through the enclave's tunnel and the host's egress proxy; the NSM is simulated.`,
      ``,
      `| measure | p50 | p95 |`,
      `|---|---:|---:|`,
      `| pack via host (POST /v1/pack, JSON + base64) | ${f(pct(h, 50))} | ${f(pct(h, 95))} |`,
      `| pack direct to the enclave endpoint | ${f(pct(d, 50))} | ${f(pct(d, 95))} |`,
      `| host overhead, isolated (stub enclave; paired host − direct, client HTTP included) | ${f(pct(overhead, 50))} | ${f(pct(overhead, 95))} |`,
      `| host's own server-side time per pack (mean from its /metrics − mean direct call) | ${f(hostOwnMean)} (mean) | — |`,
      `| host's own server-side time per pack (p50 of fastify responseTime − p50 of the direct call) | ${f(pct(serverMs, 50) - pct(directStub, 50))} | ${f(pct(serverMs, 95) - pct(directStub, 95))} |`,
      `| — git verify (re-hash ${objects.objects.length} objects, walk ${paths.length} paths) | ${f(pct(g, 50))} | ${f(pct(g, 95))} |`,
      `| — authorization (OIDC token verified with a warm JWKS cache, claims, repo rules, clock cross-check with a fresh NSM document) | ${f(pct(enclavePhases.map((p) => p.authorize), 50))} | ${f(pct(enclavePhases.map((p) => p.authorize), 95))} |`,
      `| — KMS calls incl. attestation (${NAMESPACES} Decrypt+Recipient, Encrypt, no Sign) | ${f(pct(enclavePhases.map((p) => p.kms), 50))} | ${f(pct(enclavePhases.map((p) => p.kms), 95))} |`,
      `| — crypto (CMS, SOPS decrypt + MAC, artifact seal; RSA-2048 recipient key made ahead in the background) | ${f(pct(enclavePhases.map((p) => p.crypto), 50))} | ${f(pct(enclavePhases.map((p) => p.crypto), 95))} |`,
      `| — receipt (statement, DSSE P-384, attestation) | ${f(pct(enclavePhases.map((p) => p.receipt), 50))} | ${f(pct(enclavePhases.map((p) => p.receipt), 95))} |`,
      baseline.length > 0
        ? `| baseline: real \`sops decrypt\` per file (${paths.length - 2} files, KMS emulator) + assemble | ${f(pct(baseline, 50))} | ${f(pct(baseline, 95))} |`
        : `| baseline: not measured (see stderr) | — | — |`,
      ``,
      `- Host overhead target: < 1 ms p50 added. It is measured against a stub enclave that answers at once with a real artifact and receipt (${iterations * 5} paired calls), because the difference of two ~300 ms p50s is mostly noise. The paired figure includes the CI client's own HTTP work (fetch), which runs in the same process here; the server-side row is the host alone: it decodes the JSON/base64 request (${(objects.objects.reduce((n, o) => n + o.length, 0) / 1024).toFixed(0)} KiB of git objects), validates and authenticates it, re-encodes it as a CBOR frame, and base64-encodes the reply.`,
      `- Baseline: what CI does today on the same 10 files — the real sops binary per file against the same KMS (emulator; the sops key's policy relaxed to the account default for this row, since the attested policy denies every un-attested Decrypt), then the same JSON assembly. Plaintext then sits on the runner; the attested pack costs about the same wall time.`,
      ``,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await host.close();
    await world.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
// Growth with files/keys, 0 and 15 ms KMS latency, and throughput at 1/4/16 concurrent packs.
process.stdout.write(`${(await packScale()).join('\n')}\n`);
