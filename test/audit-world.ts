// A small world for the audit's end-to-end tests: the KMS emulator writing SIMULATED
// CloudTrail, a key whose policy releases data keys only to the manifest's image, packs made
// by "enclaves" (simulated NSM + the enclave's own KmsCallLog recorder) on three days, their
// receipts in a store — and the things an audit must catch: a pack whose receipt is
// withheld, a decrypt attempt by an image in no manifest and one by a debug-mode enclave
// (both refused by the key policy).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'node:https';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { KmsCallLog } from '../enclave/kms-calls.ts';
import { generateRecipientKey } from '../enclave/kms.ts';
import { signReceipt } from '../enclave/pack/receipt.ts';
import { createTestCa, type TestCa } from '../simulator/attestation-issuer.ts';
import { startKmsEmulator, type KmsEmulator, type KmsPrincipal } from '../simulator/kms/server.ts';
import { createSimulatedNsm } from '../simulator/nsm.ts';
import { serializeBuildManifest } from '../verifier/build-manifest.ts';
import { NO_PACK_OPTIONS, sampleReceiptAuthorization } from '../verifier/test-authorization.ts';
import { sampleManifest } from './receipt-fixtures.ts';

const ACCOUNT = '111122223333';
const ADMIN: KmsPrincipal = { accessKeyId: 'AKIAAUDITADMIN000001', secretAccessKey: 'audit-admin-secret-for-tests-only-000000', principalArn: `arn:aws:iam::${ACCOUNT}:user/admin` };
const ENCLAVE: KmsPrincipal = {
  accessKeyId: 'ASIAAUDITENCLAVE0001', secretAccessKey: 'audit-enclave-secret-for-tests-only-0000',
  principalArn: `arn:aws:sts::${ACCOUNT}:assumed-role/enclave-role/i-0a1b2c3d4e5f60718`, sessionToken: 'audit-session-token',
};
const DAY = 24 * 3600 * 1000;
/** Noon UTC on three consecutive days. */
export const START = Date.parse('2026-11-20T12:00:00.000Z');

export interface AuditWorld {
  dir: string;
  cloudTrailDir: string;
  storeDir: string;
  manifestFile: string;
  rootPem: string;
  rootDer: Uint8Array;
  sopsKey: string;
  envelopeKey: string;
  /** Request id of the withheld pack's Decrypt. */
  withheldDecrypt: string;
  storedReceipts: string[];
  close(): void;
}

function keyPolicy(pcr0: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'admin', Effect: 'Allow', Principal: { AWS: ADMIN.principalArn }, Action: 'kms:*', Resource: '*' },
      { Sid: 'enclave-encrypt', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/enclave-role` }, Action: 'kms:Encrypt', Resource: '*' },
      {
        Sid: 'enclave-decrypt-attested', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/enclave-role` }, Action: 'kms:Decrypt', Resource: '*',
        Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': pcr0 } },
      },
    ],
  });
}

interface Ctx {
  kms: KmsEmulator;
  ca: TestCa;
  clock: { t: number };
  agents: Agent[];
}

function client(c: Ctx, p: KmsPrincipal, log?: KmsCallLog): KMSClient {
  const agent = new Agent({ ca: c.kms.caPem });
  c.agents.push(agent);
  const k = new KMSClient({
    endpoint: c.kms.endpoint, region: c.kms.region, maxAttempts: 1, systemClockOffset: c.clock.t - Date.now(),
    credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey, ...(p.sessionToken === undefined ? {} : { sessionToken: p.sessionToken }) },
    requestHandler: new NodeHttpHandler({ httpsAgent: agent }),
  });
  log?.attach(k);
  return k;
}

/** One pack as the enclave makes it: attested Decrypt of the SOPS data key, Encrypt of the DEK, receipt. */
async function pack(c: Ctx, manifest: ReturnType<typeof sampleManifest>, keys: { sops: string; envelope: string; blob: Uint8Array }, n: number): Promise<{ receipt: Uint8Array; revision: string; decryptId: string }> {
  const nsm = createSimulatedNsm({ ca: c.ca, pcrs: manifest, moduleId: 'i-0a1b2c3d4e5f60718-enc0123456789abcdef', clock: () => c.clock.t });
  const log = new KmsCallLog();
  const kms = client(c, ENCLAVE, log);
  const rk = await generateRecipientKey();
  await kms.send(new DecryptCommand({ CiphertextBlob: keys.blob, Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: await nsm.attest({ publicKey: rk.spki }) } }));
  await kms.send(new EncryptCommand({ KeyId: keys.envelope, Plaintext: new Uint8Array(32).fill(n) }));
  kms.destroy();
  const revision = `${c.clock.t}-${(0x1a2b3c00 + n).toString(16)}`;
  const commit = n.toString(16).padStart(40, 'c');
  const receipt = await signReceipt(nsm, {
    artifactName: 'payments-api/production.json',
    authorization: sampleReceiptAuthorization(commit),
    source: { repository: 'example/secrets', commit, objectFormat: 'sha1', clefYaml: 'd'.repeat(40), cells: [{ namespace: 'database', environment: 'production', path: 'secrets/database/production.enc.yaml', blob: 'e'.repeat(40) }] },
    pack: { identity: 'payments-api', environment: 'production', namespaces: ['database'], revision, packedAt: new Date(c.clock.t).toISOString(), options: { ...NO_PACK_OPTIONS } },
    kms: { sopsDecryptKeys: [keys.sops], envelopeKey: keys.envelope, signingKey: null, calls: log.calls },
    builderVersion: '0.1.0',
  }, new TextEncoder().encode(`{"n":${n}}\n`), new Uint8Array(32).fill(7));
  const decryptId = log.calls.find((x) => x.operation === 'Decrypt')?.requestId ?? '';
  return { receipt, revision, decryptId };
}

/** A Decrypt attempt from an enclave the key policy does not trust (it is refused). */
async function refusedAttempt(c: Ctx, nsmOpts: Parameters<typeof createSimulatedNsm>[0], blob: Uint8Array): Promise<void> {
  const nsm = createSimulatedNsm(nsmOpts);
  const kms = client(c, ENCLAVE);
  const rk = await generateRecipientKey();
  await kms.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: await nsm.attest({ publicKey: rk.spki }) } }))
    .then(() => { throw new Error('the key policy should have refused this enclave'); }, (e: Error) => { if (e.name !== 'AccessDeniedException') throw e; });
  kms.destroy();
}

export async function buildAuditWorld(): Promise<AuditWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'audit-world-'));
  const clock = { t: START };
  const ca = await createTestCa({ now: () => clock.t });
  const manifest = sampleManifest();
  const cloudTrailDir = join(dir, 'cloudtrail');
  const kms = await startKmsEmulator({ stateDir: join(dir, 'kms'), principals: [ADMIN, ENCLAVE], accountId: ACCOUNT, attestationRoot: ca.rootDer, now: () => clock.t, cloudTrailDir });
  const c: Ctx = { kms, ca, clock, agents: [] };
  try {
    const admin = client(c, ADMIN);
    const policy = keyPolicy(manifest.pcrs['0']);
    const sops = (await admin.send(new CreateKeyCommand({ Policy: policy }))).KeyMetadata?.Arn ?? '';
    const envelope = (await admin.send(new CreateKeyCommand({ Policy: policy }))).KeyMetadata?.Arn ?? '';
    const blob = (await admin.send(new EncryptCommand({ KeyId: sops, Plaintext: new Uint8Array(32).fill(1) }))).CiphertextBlob ?? new Uint8Array();
    admin.destroy();
    const storeDir = join(dir, 'receipts');
    const stored: string[] = [];
    let withheld = '';
    // Day 1: two packs; day 2: one pack, one withheld, the refused attempts; day 3: one pack.
    const plan: Array<[number, 'store' | 'withhold']> = [[0, 'store'], [0, 'store'], [1, 'store'], [1, 'withhold'], [2, 'store']];
    for (const [i, [day, what]] of plan.entries()) {
      clock.t = START + day * DAY + i * 60_000;
      const p = await pack(c, manifest, { sops, envelope, blob }, i + 1);
      if (what === 'withhold') {
        withheld = p.decryptId;
        continue;
      }
      const key = `payments-api/production/${p.revision}.json`;
      mkdirSync(join(storeDir, 'payments-api', 'production'), { recursive: true });
      writeFileSync(join(storeDir, key), p.receipt);
      stored.push(key);
    }
    clock.t = START + DAY + 3 * 3600_000;
    await refusedAttempt(c, { ca, pcrs: sampleManifest(0x60), moduleId: 'i-0fffffffffffffff0-enc0fedcba987654321', clock: () => clock.t }, blob);
    await refusedAttempt(c, { ca, pcrs: manifest, debug: true, moduleId: 'i-0eeeeeeeeeeeeeee0-enc0aaaaaaaaaaaaaaaa', clock: () => clock.t }, blob);
    const manifestFile = join(dir, 'manifest.json');
    writeFileSync(manifestFile, serializeBuildManifest(manifest));
    return {
      dir, cloudTrailDir, storeDir, manifestFile, rootPem: ca.rootPem, rootDer: ca.rootDer, sopsKey: sops, envelopeKey: envelope,
      withheldDecrypt: withheld, storedReceipts: stored,
      close: () => rmSync(dir, { recursive: true, force: true }),
    };
  } finally {
    for (const a of c.agents) a.destroy();
    await kms.close();
  }
}
