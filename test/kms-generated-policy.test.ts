// The key policies `policy/` generates, enforced by the KMS emulator on SigV4-signed SDK
// requests: the sops key opens only for the attested image (the whole sops → KMS
// Decrypt+Recipient → CMS → SOPS decrypt path), the envelope and signing keys do what
// Clef needs and nothing more.
import { createHash, generateKeyPairSync, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, GetPublicKeyCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import { openCiphertextForRecipient } from '../enclave/cms.ts';
import { decryptSops, encryptSops, kmsKeyWrapper, kmsUnwrapper, parseSops } from '../enclave/sops/index.ts';
import { generateDocumentedKeyPolicy } from '../policy/index.ts';
import { createTestCa, type TestCa } from '../simulator/attestation-issuer.ts';
import { createSimulatedNsm } from '../simulator/nsm.ts';
import { BUILD_MANIFEST_SCHEMA, type BuildManifest } from '../verifier/index.ts';
import { ACCOUNT, ADMIN, CI_USER, ENCLAVE_ROLE, rejection, startHarness, type Harness } from './kms-harness.ts';

const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/enclave-role`;
const sha384 = (s: string): string => createHash('sha384').update(s).digest('hex');
const manifest: BuildManifest = {
  schema: BUILD_MANIFEST_SCHEMA,
  project: { name: 'attested-pack', version: '0.1.0', sourceCommit: 'c'.repeat(40), sourceDirty: false },
  blobSet: { kind: 'development', description: 'test' },
  sourceDateEpoch: 0,
  inputs: [],
  eif: { file: 'enclave.eif', sha384: sha384('eif'), size: 1 },
  pcrs: { '0': sha384('pcr0'), '1': sha384('pcr1'), '2': sha384('pcr2') },
  trustPolicy: null,
};
const otherImage: BuildManifest = { ...manifest, pcrs: { ...manifest.pcrs, '2': sha384('tampered app') } };
const PLAIN = 'db_password: hunter2\napi_token: t0k3n\n';
/** The KMS-wrapped data key of a SOPS file (`sops.kms[0].enc`). */
const wrappedDataKey = (text: string): Buffer => Buffer.from((parseYaml(text) as { sops: { kms: Array<{ enc: string }> } }).sops.kms[0]!.enc, 'base64');

let ca: TestCa;
let h: Harness;
let admin: KMSClient;
let enclave: KMSClient;
let ci: KMSClient;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const spki = rsa.publicKey.export({ type: 'spki', format: 'der' });

beforeAll(async () => {
  ca = await createTestCa();
  h = await startHarness({ attestationRoot: ca.rootDer });
  admin = h.client(ADMIN);
  enclave = h.client(ENCLAVE_ROLE);
  ci = h.client(CI_USER);
});
afterAll(async () => h.close());

async function createKeyFor(kind: 'sops' | 'envelope' | 'signing'): Promise<string> {
  const generated = generateDocumentedKeyPolicy({
    key: kind,
    manifest,
    enclaveRoleArn: ROLE_ARN,
    adminArns: [ADMIN.principalArn],
    editorArns: [CI_USER.principalArn],
    readerArns: [CI_USER.principalArn],
  });
  const created = await admin.send(new CreateKeyCommand({
    Policy: JSON.stringify(generated.policy),
    KeySpec: generated.key.keySpec,
    KeyUsage: generated.key.keyUsage,
    Description: generated.key.description,
  }));
  return created.KeyMetadata!.Arn!;
}

async function recipientFor(image: BuildManifest, debug = false): Promise<{ AttestationDocument: Uint8Array; KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }> {
  const nsm = createSimulatedNsm({ ca, pcrs: image, debug });
  return { AttestationDocument: await nsm.attest({ publicKey: spki }), KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' };
}

describe('generated sops-key policy', () => {
  let arn: string;
  let sopsFile: string;
  beforeAll(async () => {
    arn = await createKeyFor('sops');
    // An editor (CI user) writes a SOPS file: the data key is wrapped with KMS Encrypt.
    const wrapper = kmsKeyWrapper({
      arn,
      encrypt: async (req) => (await ci.send(new EncryptCommand({ KeyId: req.keyArn, Plaintext: req.plaintext, EncryptionContext: req.encryptionContext }))).CiphertextBlob!,
    });
    sopsFile = await encryptSops(PLAIN, { format: 'yaml', fileName: 'secrets.enc.yaml', keys: [wrapper] });
  });

  it('the attested image decrypts the SOPS file: Decrypt + Recipient → CMS → data key → MAC-checked plaintext', async () => {
    const recipient = await recipientFor(manifest);
    const unwrapper = kmsUnwrapper(async (req) => {
      const out = await enclave.send(new DecryptCommand({ KeyId: req.keyArn, CiphertextBlob: req.ciphertextBlob, EncryptionContext: req.encryptionContext, Recipient: recipient }));
      expect(out.Plaintext).toBeUndefined();
      return openCiphertextForRecipient(out.CiphertextForRecipient!, rsa.privateKey);
    });
    const opened = await decryptSops(parseSops(sopsFile, { format: 'yaml', fileName: 'secrets.enc.yaml' }), unwrapper);
    expect(opened.data).toEqual({ db_password: 'hunter2', api_token: 't0k3n' });
  });

  it('another image, a debug enclave, or no Recipient: AccessDeniedException', async () => {
    const blob = wrappedDataKey(sopsFile);
    for (const recipient of [await recipientFor(otherImage), await recipientFor(manifest, true), undefined]) {
      const e = await rejection(enclave.send(new DecryptCommand({ KeyId: arn, CiphertextBlob: blob, ...(recipient === undefined ? {} : { Recipient: recipient }) })));
      expect(e.name).toBe('AccessDeniedException');
    }
  });

  it('the admin and the editor cannot decrypt, even with the right attestation', async () => {
    const blob = wrappedDataKey(sopsFile);
    for (const client of [admin, ci]) {
      expect((await rejection(client.send(new DecryptCommand({ CiphertextBlob: blob })))).name).toBe('AccessDeniedException');
      expect((await rejection(client.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: await recipientFor(manifest) })))).name).toBe('AccessDeniedException');
    }
  });
});

describe('generated envelope-key policy', () => {
  it('the enclave wraps DEKs (Encrypt, no context) but cannot unwrap; readers unwrap', async () => {
    const arn = await createKeyFor('envelope');
    const dek = Buffer.alloc(32, 0x42);
    const wrapped = await enclave.send(new EncryptCommand({ KeyId: arn, Plaintext: dek }));
    expect((await rejection(enclave.send(new DecryptCommand({ CiphertextBlob: wrapped.CiphertextBlob })))).name).toBe('AccessDeniedException');
    const unwrapped = await ci.send(new DecryptCommand({ CiphertextBlob: wrapped.CiphertextBlob }));
    expect(Buffer.from(unwrapped.Plaintext!).equals(dek)).toBe(true);
  });
});

describe('generated signing-key policy', () => {
  it('the enclave signs digests only (ECDSA_SHA_256, DIGEST); readers verify with the public key', async () => {
    const arn = await createKeyFor('signing');
    const payload = Buffer.from('clef artifact signature payload');
    const digest = createHash('sha256').update(payload).digest();
    const signed = await enclave.send(new SignCommand({ KeyId: arn, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' }));
    expect((await rejection(enclave.send(new SignCommand({ KeyId: arn, Message: payload, MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' })))).name).toBe('AccessDeniedException');
    const pub = await ci.send(new GetPublicKeyCommand({ KeyId: arn }));
    const key = createPublicKey({ key: Buffer.from(pub.PublicKey!), format: 'der', type: 'spki' });
    expect(nodeVerify('sha256', payload, key, Buffer.from(signed.Signature!))).toBe(true);
    expect((await rejection(ci.send(new SignCommand({ KeyId: arn, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' })))).name).toBe('AccessDeniedException');
  });
});
