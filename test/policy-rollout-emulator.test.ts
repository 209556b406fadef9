// Image rollout without downtime (docs/operations.md), in the KMS emulator with real SigV4
// requests and simulated attestation documents: the sops key first pins the old image; the
// rollout policy (policy generate --also-manifest) lets old and new images decrypt; after
// the old one is removed only the new image decrypts. Every step's policy lints clean.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, PutKeyPolicyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { openCiphertextForRecipient } from '../enclave/cms.ts';
import { createTestCa, type TestCa } from '../simulator/attestation-issuer.ts';
import { createSimulatedNsm } from '../simulator/nsm.ts';
import type { KmsPrincipal } from '../simulator/kms/server.ts';
import { manifestPcrs, parseBuildManifest, type BuildManifest } from '../verifier/build-manifest.ts';
import { generateKeyPolicy, type GenerateKeyPolicyInput } from '../policy/generate.ts';
import { hasErrors, lintKeyPolicy } from '../policy/lint.ts';
import type { KeyPolicy } from '../policy/types.ts';
import { main } from '../cli/main.ts';
import { rejection, startHarness, type Harness } from './kms-harness.ts';

const ACCOUNT = '111122223333';
const OLD_FILE = new URL('../cli/aws/testdata/build-manifest-v1.json', import.meta.url);
const NEW_FILE = new URL('../cli/aws/testdata/build-manifest-v2.json', import.meta.url);
const OLD = parseBuildManifest(readFileSync(OLD_FILE));
const NEW = parseBuildManifest(readFileSync(NEW_FILE));
const ENCLAVE_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/enclave-role`;

function principal(name: string, principalArn: string): KmsPrincipal {
  const id = name.toUpperCase().padEnd(12, 'X').slice(0, 12);
  return { accessKeyId: `AKIAROLLOUT${id}`.slice(0, 20), secretAccessKey: `${name}-secret-for-rollout-tests-only-00000`, principalArn };
}
const ADMIN = principal('admin', `arn:aws:iam::${ACCOUNT}:user/kms-admin`);
const ENCLAVE = principal('enclave', `arn:aws:sts::${ACCOUNT}:assumed-role/enclave-role/i-0a1b2c3d4e5f60718`);
const EDITOR = principal('editor', `arn:aws:iam::${ACCOUNT}:user/alice`);

const base: Omit<GenerateKeyPolicyInput, 'manifest'> = {
  key: 'sops',
  enclaveRoleArn: ENCLAVE_ROLE_ARN,
  adminArns: [ADMIN.principalArn],
  editorArns: [EDITOR.principalArn],
};

const DATA_KEY = Buffer.from('sops data key: 32 bytes of AES!!');
const recipientKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const spki = recipientKey.publicKey.export({ type: 'spki', format: 'der' });

let ca: TestCa;
let h: Harness;
let admin: KMSClient;
let enclave: KMSClient;
let keyId: string;
let blob: Uint8Array;

beforeAll(async () => {
  ca = await createTestCa();
  h = await startHarness({ attestationRoot: ca.rootDer, accountId: ACCOUNT, principals: [ADMIN, ENCLAVE, EDITOR] });
  admin = h.client(ADMIN);
  enclave = h.client(ENCLAVE);
  const created = await admin.send(new CreateKeyCommand({ Policy: JSON.stringify(generateKeyPolicy({ ...base, manifest: OLD })), KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT' }));
  keyId = created.KeyMetadata!.KeyId!;
  blob = (await h.client(EDITOR).send(new EncryptCommand({ KeyId: keyId, Plaintext: DATA_KEY }))).CiphertextBlob!;
});
afterAll(async () => h.close());

/** Decrypt as the enclave role with an attestation of `image`; the data key, or the error name. */
async function decryptAs(image: BuildManifest | 'debug'): Promise<string> {
  const pcrs = manifestPcrs(image === 'debug' ? NEW : image);
  const nsm = createSimulatedNsm({ ca, pcrs, debug: image === 'debug' });
  const Recipient = { AttestationDocument: await nsm.attest({ publicKey: spki }), KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' as const };
  try {
    const out = await enclave.send(new DecryptCommand({ CiphertextBlob: blob, Recipient }));
    return Buffer.from(openCiphertextForRecipient(out.CiphertextForRecipient!, recipientKey.privateKey)).toString();
  } catch (e) {
    return (e as Error).name;
  }
}

async function putPolicy(policy: KeyPolicy): Promise<void> {
  await admin.send(new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default', Policy: JSON.stringify(policy) }));
}

function lintClean(policy: KeyPolicy, manifest: BuildManifest, additionalManifests: BuildManifest[] = []): void {
  const findings = lintKeyPolicy(policy, { manifest, additionalManifests, enclaveRoleArn: ENCLAVE_ROLE_ARN });
  expect(findings).toEqual([]);
}

describe('PCR rollout of the sops key in the KMS emulator', () => {
  it('step 0: the old image decrypts, the new one is denied', async () => {
    expect(await decryptAs(OLD)).toBe(DATA_KEY.toString());
    expect(await decryptAs(NEW)).toBe('AccessDeniedException');
  });

  it('step 1 (rollout policy, old + new): both images decrypt; debug and no-Recipient still denied', async () => {
    const policy = generateKeyPolicy({ ...base, manifest: NEW, additionalManifests: [OLD] });
    lintClean(policy, NEW, [OLD]);
    await putPolicy(policy);
    expect(await decryptAs(OLD)).toBe(DATA_KEY.toString());
    expect(await decryptAs(NEW)).toBe(DATA_KEY.toString());
    expect(await decryptAs('debug')).toBe('AccessDeniedException');
    const plain = await rejection(enclave.send(new DecryptCommand({ CiphertextBlob: blob })));
    expect(plain.name).toBe('AccessDeniedException');
  });

  it('step 2 (old image removed): only the new image decrypts', async () => {
    const policy = generateKeyPolicy({ ...base, manifest: NEW });
    lintClean(policy, NEW);
    await putPolicy(policy);
    expect(await decryptAs(NEW)).toBe(DATA_KEY.toString());
    expect(await decryptAs(OLD)).toBe('AccessDeniedException');
  });
});

describe('generateKeyPolicy with additionalManifests', () => {
  it('is unchanged for one image (no list, or the same manifest again)', () => {
    const one = generateKeyPolicy({ ...base, manifest: OLD });
    expect(generateKeyPolicy({ ...base, manifest: OLD, additionalManifests: [] })).toEqual(one);
    expect(generateKeyPolicy({ ...base, manifest: OLD, additionalManifests: [OLD] })).toEqual(one);
    for (const st of one.Statement) for (const block of Object.values(st.Condition ?? {})) for (const v of Object.values(block)) expect(typeof v).toBe('string');
  });

  it('pins each PCR to the list of both images, allow and deny alike', () => {
    const policy = generateKeyPolicy({ ...base, manifest: NEW, additionalManifests: [OLD] });
    const allow = policy.Statement.find((s) => s.Sid === 'EnclaveDecryptsSopsDataKeysOnlyWhenAttested')!;
    const deny0 = policy.Statement.find((s) => s.Sid === 'DenyDecryptUnlessAttestedPCR0')!;
    expect(allow.Condition?.StringEqualsIgnoreCase?.['kms:RecipientAttestation:PCR0']).toEqual([NEW.pcrs['0'], OLD.pcrs['0']]);
    expect(deny0.Condition?.StringNotEqualsIgnoreCase?.['kms:RecipientAttestation:PCR0']).toEqual([NEW.pcrs['0'], OLD.pcrs['0']]);
  });

  it('lint flags the old values when the old manifest is not declared (KP010, and KP030: the old image decrypts)', () => {
    const policy = generateKeyPolicy({ ...base, manifest: NEW, additionalManifests: [OLD] });
    const findings = lintKeyPolicy(policy, { manifest: NEW });
    expect(hasErrors(findings)).toBe(true);
    expect(new Set(findings.map((f) => f.code))).toEqual(new Set(['KP010', 'KP030']));
    expect(findings.find((f) => f.code === 'KP030')?.counterexample?.attestation).toMatch(/PCR0=/);
  });

  it('policy generate --also-manifest prints exactly generateKeyPolicy; policy lint --also-manifest accepts it', async () => {
    const run = async (argv: string[]) => {
      const stdout = new PassThrough();
      let out = '';
      stdout.on('data', (c: Buffer) => (out += c.toString()));
      const code = await main(argv, { stdout, stderr: new PassThrough() });
      return { code, out };
    };
    const gen = await run(['policy', 'generate', '--key', 'sops', '--manifest', NEW_FILE.pathname, '--also-manifest', OLD_FILE.pathname, '--role', ENCLAVE_ROLE_ARN, '--admin', ADMIN.principalArn, '--editors', EDITOR.principalArn]);
    expect(gen.code).toBe(0);
    expect(JSON.parse(gen.out)).toEqual(generateKeyPolicy({ ...base, manifest: NEW, additionalManifests: [OLD] }));
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'ap-rollout-'));
    try {
      writeFileSync(join(dir, 'p.json'), gen.out);
      expect((await run(['policy', 'lint', join(dir, 'p.json'), '--manifest', NEW_FILE.pathname, '--also-manifest', OLD_FILE.pathname])).code).toBe(0);
      expect((await run(['policy', 'lint', join(dir, 'p.json'), '--manifest', NEW_FILE.pathname])).code).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
