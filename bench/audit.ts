// `attested-pack audit` at scale: 100,000 CloudTrail events (100 gzipped delivery files of
// 1,000) against a receipt store of 10,000 receipts, each verified in full (COSE, chain to
// the simulated root, DSSE, statement). The events: per receipt its attested Decrypt and its
// Encrypt; 70,000 other KMS events (runtimes' un-attested Decrypts, other keys); 9,990 events
// of other services; 10 unexplained attested Decrypts. The evidence is generated once into a
// cache directory (seeded, so every run audits the same bytes); only runAudit is timed.
// Run: npm run bench:audit. Writes "## audit" in bench/RESULTS.md. Target: < 60 s.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runAudit } from '../cli/audit/index.ts';
import { createTestCa } from '../simulator/attestation-issuer.ts';
import { serializeBuildManifest } from '../verifier/build-manifest.ts';
import { assembleReceipt, receiptPublicKey, receiptUserData, signReceiptStatement } from '../verifier/receipt.ts';
import { buildReceiptStatement } from '../verifier/statement.ts';
import { manifestPcrMap, newSigningKey, sampleInput, sampleManifest } from '../test/receipt-fixtures.ts';
import { writeResultsSection } from './results-file.ts';

const RECEIPTS = Number(process.env.BENCH_AUDIT_RECEIPTS ?? 10_000);
const EVENTS = Number(process.env.BENCH_AUDIT_EVENTS ?? 100_000);
const UNEXPLAINED = 10;
const DIR = join(tmpdir(), `attested-pack-bench-audit-${RECEIPTS}-${EVENTS}-v1`);
const SOPS_KEY = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const ENV_KEY = 'arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321';
const START = Date.parse('2026-10-01T00:00:00.000Z');

/** Deterministic request ids: UUID-shaped hex of SHA-256(label). */
function uuid(label: string): string {
  const h = createHash('sha256').update(label).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function kmsEvent(name: string, requestId: string, t: number, key: string, recipient: Record<string, string> | null): Record<string, unknown> {
  return {
    eventVersion: '1.08', userIdentity: { type: 'AssumedRole', arn: 'arn:aws:sts::111122223333:assumed-role/enclave-role/i-0a1b2c3d4e5f60718', accountId: '111122223333' },
    eventTime: new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z'), eventSource: 'kms.amazonaws.com', eventName: name, awsRegion: 'eu-west-1',
    sourceIPAddress: '192.0.2.0', userAgent: 'aws-sdk-js/3', requestParameters: { keyId: key }, responseElements: null,
    ...(recipient === null ? {} : { additionalEventData: { recipient } }),
    requestID: requestId, eventID: uuid(`event ${requestId}`), readOnly: true,
    resources: [{ accountId: '111122223333', type: 'AWS::KMS::Key', ARN: key }], eventType: 'AwsApiCall', recipientAccountId: '111122223333',
  };
}

async function generate(): Promise<void> {
  rmSync(DIR, { recursive: true, force: true });
  const manifest = sampleManifest();
  const pcrs = manifestPcrMap(manifest);
  const recipient = { attestationDocumentModuleId: 'i-0a1b2c3d4e5f60718-enc0123456789abcdef', attestationDocumentEnclaveImageDigest: manifest.pcrs['0'], attestationDocumentEnclavePCR1: manifest.pcrs['1'], attestationDocumentEnclavePCR2: manifest.pcrs['2'] };
  let clock = START;
  const ca = await createTestCa({ now: () => clock });
  const events: Array<Record<string, unknown>> = [];
  mkdirSync(join(DIR, 'receipts', 'payments-api', 'production'), { recursive: true });
  for (let i = 0; i < RECEIPTS; i++) {
    clock = START + Math.floor((i * 30 * 86_400_000) / RECEIPTS);
    const input = sampleInput();
    input.pack.revision = `${clock}-${i.toString(16).padStart(8, '0')}`;
    input.pack.packedAt = new Date(clock).toISOString();
    input.kms.calls = [
      { operation: 'Decrypt', keyArn: SOPS_KEY, requestId: uuid(`decrypt ${i}`) },
      { operation: 'Encrypt', keyArn: ENV_KEY, requestId: uuid(`encrypt ${i}`) },
    ];
    const key = newSigningKey();
    const envelope = signReceiptStatement(buildReceiptStatement(input), key);
    const doc = await ca.issue({ pcrs, publicKey: receiptPublicKey(key), userData: receiptUserData(envelope), nonce: null, timestamp: clock });
    writeFileSync(join(DIR, 'receipts', 'payments-api', 'production', `${input.pack.revision}.json`), assembleReceipt(envelope, doc));
    events.push(kmsEvent('Decrypt', uuid(`decrypt ${i}`), clock - 500, SOPS_KEY, recipient), kmsEvent('Encrypt', uuid(`encrypt ${i}`), clock - 100, ENV_KEY, null));
  }
  for (let i = 0; i < UNEXPLAINED; i++) events.push(kmsEvent('Decrypt', uuid(`unexplained ${i}`), START + i * 86_400_000 + 7, SOPS_KEY, recipient));
  const others = EVENTS - events.length;
  for (let i = 0; i < others; i++) {
    const t = START + Math.floor((i * 30 * 86_400_000) / others);
    events.push(i % 8 === 0
      ? { eventVersion: '1.08', eventTime: new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z'), eventSource: 's3.amazonaws.com', eventName: 'GetObject', awsRegion: 'eu-west-1', requestID: `S3REQ${i}`, eventID: uuid(`s3 ${i}`) }
      : kmsEvent('Decrypt', uuid(`runtime ${i}`), t, 'arn:aws:kms:eu-west-1:111122223333:key/11112222-3333-4444-5555-666677778888', null));
  }
  mkdirSync(join(DIR, 'cloudtrail'));
  for (let f = 0; f * 1000 < events.length; f++) {
    writeFileSync(join(DIR, 'cloudtrail', `111122223333_CloudTrail_eu-west-1_${String(f).padStart(4, '0')}.json.gz`), gzipSync(JSON.stringify({ Records: events.slice(f * 1000, f * 1000 + 1000) })));
  }
  writeFileSync(join(DIR, 'manifest.json'), serializeBuildManifest(manifest));
  writeFileSync(join(DIR, 'root.der'), ca.rootDer);
  writeFileSync(join(DIR, 'DONE'), '');
}

if (!existsSync(join(DIR, 'DONE'))) {
  const t = performance.now();
  await generate();
  process.stdout.write(`generated ${RECEIPTS} receipts and ${EVENTS} events in ${((performance.now() - t) / 1000).toFixed(1)} s (${DIR})\n`);
}
const rssBefore = process.memoryUsage().rss;
const t0 = performance.now();
const report = runAudit({ cloudTrail: [join(DIR, 'cloudtrail')], receipts: join(DIR, 'receipts'), manifests: [join(DIR, 'manifest.json')], root: new Uint8Array(readFileSync(join(DIR, 'root.der'))) });
const seconds = (performance.now() - t0) / 1000;
const peakRssMiB = process.resourceUsage().maxRSS / 1024;
const f = report.findings;
if (f.unexplained.length !== UNEXPLAINED || f.matched.length !== RECEIPTS || f.failedReceipts.length !== 0 || f.missingCalls.length !== 0) {
  throw new Error(`unexpected findings: ${f.unexplained.length} unexplained, ${f.matched.length} matched, ${f.failedReceipts.length} failed receipts, ${f.missingCalls.length} missing`);
}
process.stdout.write(`audit: ${report.counts.kmsEvents + report.counts.otherEvents} events, ${report.counts.receipts} receipts in ${seconds.toFixed(1)} s; peak RSS ${peakRssMiB.toFixed(0)} MiB (before the audit ${(rssBefore / 1048576).toFixed(0)} MiB)\n`);

const section = `## audit

\`npm run bench:audit\`: ${report.counts.kmsEvents + report.counts.otherEvents} CloudTrail events (${report.counts.files} gzipped delivery files) against ${report.counts.receipts} receipts, one thread.
Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load average ${loadavg()[0]?.toFixed(1)}; ${new Date().toISOString().slice(0, 10)}.

| measure | value |
|---|---:|
| runAudit wall time (read + gunzip + strict JSON, verify every receipt, reconcile) | ${seconds.toFixed(1)} s |
| peak RSS of the process (maxRSS) | ${peakRssMiB.toFixed(0)} MiB |
| findings | ${f.matched.length} matched, ${f.unexplained.length} unexplained (planted), 0 failed receipts |

- Target: under 60 s. Every receipt is verified in full (COSE ES384, chain to the simulated root, DSSE,
  statement) — that is most of the time; the CloudTrail side is strict JSON over ~${Math.round(EVENTS / 1000)}k events.
- Generation (not timed) makes real receipts with the simulated CA, cached in the OS temp directory.
`;
writeResultsSection('audit', section);
