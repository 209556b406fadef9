// KMS emulator throughput through the AWS SDK: Decrypt without and with Recipient
// (attestation verification + RSA-OAEP + CMS). The emulator runs as its own process
// (`attested-pack kms-emulator`), the SDK client here, so neither steals the other's
// event loop. Usage: npx tsx bench/kms.ts [--seconds N] [--concurrency N]
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { Agent } from 'node:https';
import { cpus, loadavg } from 'node:os';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createTestCa } from '../simulator/attestation-issuer.ts';
import { createSimulatedNsm, writeSimulatedRoot } from '../simulator/nsm.ts';
import { attestationRecipientVerifier } from '../simulator/kms/attested-recipient.ts';
import { OPERATIONS, type KmsEnvironment } from '../simulator/kms/operations.ts';
import { signSigV4, verifySigV4 } from '../simulator/kms/sigv4.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '16' } } });
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);
const repo = fileURLToPath(new URL('..', import.meta.url));

const principal = { accessKeyId: 'AKIABENCHMARK0000001', secretAccessKey: 'bench-secret', principalArn: 'arn:aws:iam::111122223333:user/bench' };
const state = mkdtempSync(join(tmpdir(), 'kms-bench-'));
writeFileSync(join(state, 'principals.json'), JSON.stringify([principal]));
const ca = await createTestCa();
const rootFile = writeSimulatedRoot(ca, state);

const child = spawn(process.execPath, [join(repo, 'bin', 'attested-pack'), 'kms-emulator', '--json', '--state', join(state, 'kms'), '--principals', join(state, 'principals.json'), '--attestation-root', rootFile], { stdio: ['ignore', 'pipe', 'inherit'] });
const info = await new Promise<{ endpoint: string; caFile: string; region: string }>((resolve, reject) => {
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))));
  });
  child.on('exit', (code) => reject(new Error(`emulator exited ${code}`)));
});

const kms = new KMSClient({
  endpoint: info.endpoint,
  region: info.region,
  credentials: principal,
  requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: readFileSync(info.caFile), keepAlive: true, maxSockets: CONCURRENCY }) }),
  maxAttempts: 1,
});

const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
const blob = (await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: new Uint8Array(32).fill(1), EncryptionContext: { f: 'bench' } }))).CiphertextBlob!;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const nsm = createSimulatedNsm({ ca, pcrs: new Map([[0, new Uint8Array(48).fill(1)], [1, new Uint8Array(48).fill(2)], [2, new Uint8Array(48).fill(3)]]) });
// One document reused for the run (it stays within the 5-minute freshness window).
const doc = await nsm.attest({ publicKey: rsa.publicKey.export({ type: 'spki', format: 'der' }) });

interface Result { name: string; requests: number; rps: number; p50: number; p99: number }

async function measure(name: string, call: () => Promise<unknown>): Promise<Result> {
  for (let i = 0; i < 50; i++) await call(); // warm-up: TLS sessions, JIT
  const latencies: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const t = performance.now();
      await call();
      latencies.push(performance.now() - t);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return { name, requests: latencies.length, rps: latencies.length / elapsed, p50: q(0.5), p99: q(0.99) };
}

const results: Result[] = [];
try {
  results.push(await measure('Decrypt (plain)', () => kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { f: 'bench' } }))));
  results.push(
    await measure('Decrypt + Recipient (verify doc, CMS)', () =>
      kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { f: 'bench' }, Recipient: { AttestationDocument: doc, KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' } })),
    ),
  );
} finally {
  kms.destroy();
  child.kill('SIGTERM');
  rmSync(state, { recursive: true, force: true });
}

const cpu = cpus()[0]?.model ?? 'unknown';
console.log(`KMS emulator via @aws-sdk/client-kms — ${cpus().length} cores (${cpu}), Node ${process.version}, ${SECONDS}s per case, concurrency ${CONCURRENCY}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log('| operation | requests | req/s | p50 ms | p99 ms |');
console.log('|---|---|---|---|---|');
for (const r of results) console.log(`| ${r.name} | ${r.requests} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} |`);

// Server-side cost per request, in process and without the network or the SDK: what the
// emulator itself spends (the numbers above are bounded by the SDK client and TLS).
const env: KmsEnvironment = {
  state: { accountId: '111122223333', region: 'us-east-1', keys: [], aliases: [] },
  save: () => undefined,
  accountId: '111122223333',
  region: 'us-east-1',
  verifyRecipient: attestationRecipientVerifier(ca.rootDer, Date.now),
  now: Date.now,
};
const call = { env, caller: principal };
const created = OPERATIONS.CreateKey!({}, call) as { KeyMetadata: { KeyId: string } };
const sealed = (OPERATIONS.Encrypt!({ KeyId: created.KeyMetadata.KeyId, Plaintext: Buffer.alloc(32).toString('base64') }, call) as { CiphertextBlob: string }).CiphertextBlob;
const docB64 = Buffer.from(doc).toString('base64');
const body = Buffer.from(JSON.stringify({ CiphertextBlob: sealed }));
const signed = signSigV4({ method: 'POST', url: '/', headers: { host: 'h', 'x-amz-target': 'TrentService.Decrypt' }, body }, principal, 'us-east-1', 'kms', Date.now());
function perCall(n: number, f: () => unknown): number {
  for (let i = 0; i < 20; i++) f();
  const t = performance.now();
  for (let i = 0; i < n; i++) f();
  return (performance.now() - t) / n;
}
console.log('');
console.log('Server-side cost per request (in process, no network/SDK):');
console.log('| step | ms |');
console.log('|---|---|');
const rows: Array<[string, number]> = [
  ['SigV4 verification', perCall(2000, () => verifySigV4({ method: 'POST', url: '/', headers: signed, body }, { region: 'us-east-1', service: 'kms', lookup: () => principal, now: Date.now }))],
  ['Decrypt (policy + AES-GCM)', perCall(2000, () => OPERATIONS.Decrypt!({ CiphertextBlob: sealed }, call))],
  ['Decrypt + Recipient (verify document, RSA-OAEP, CMS)', perCall(200, () => OPERATIONS.Decrypt!({ CiphertextBlob: sealed, Recipient: { AttestationDocument: docB64 } }, call))],
];
for (const [name, ms] of rows) console.log(`| ${name} | ${ms.toFixed(3)} |`);
