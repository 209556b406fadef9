// Every generated key policy, deployed in the KMS emulator and exercised with real
// SigV4-signed @aws-sdk/client-kms requests and simulated attestation documents: the
// attested image is allowed; a wrong PCR, a debug document, a missing Recipient or another
// principal is denied.
import { createHash, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateKeyCommand,
  DecryptCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetPublicKeyCommand,
  PutKeyPolicyCommand,
  SignCommand,
  VerifyCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { openCiphertextForRecipient } from '../enclave/cms.ts';
import { createTestCa, type TestCa } from '../simulator/attestation-issuer.ts';
import { createSimulatedNsm } from '../simulator/nsm.ts';
import type { KmsPrincipal } from '../simulator/kms/server.ts';
import { manifestPcrs, parseBuildManifest } from '../verifier/build-manifest.ts';
import { pcr3ForRoleArn } from '../policy/attestation-keys.ts';
import { generateKeyPolicy, type GenerateKeyPolicyInput } from '../policy/generate.ts';
import { rejection, startHarness, type Harness } from './kms-harness.ts';

const ACCOUNT = '111122223333';
const manifest = parseBuildManifest(readFileSync(new URL('../policy/fixtures/manifest.json', import.meta.url)));
const ENCLAVE_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/enclave-role`;
const RUNTIME_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/runtime`;

function principal(name: string, principalArn: string): KmsPrincipal {
  const id = name.toUpperCase().padEnd(12, 'X').slice(0, 12);
  return { accessKeyId: `AKIAPOLICY${id}`, secretAccessKey: `${name}-secret-for-policy-tests-only-0000000`, principalArn };
}
const ADMIN = principal('admin', `arn:aws:iam::${ACCOUNT}:user/kms-admin`);
const ENCLAVE = principal('enclave', `arn:aws:sts::${ACCOUNT}:assumed-role/enclave-role/i-0a1b2c3d4e5f60718`);
const EDITOR = principal('editor', `arn:aws:iam::${ACCOUNT}:user/alice`);
const RUNTIME = principal('runtime', `arn:aws:sts::${ACCOUNT}:assumed-role/runtime/agent-1`);
const OTHER = principal('other', `arn:aws:iam::${ACCOUNT}:user/ci`);

const base: Omit<GenerateKeyPolicyInput, 'key'> = {
  manifest,
  enclaveRoleArn: ENCLAVE_ROLE_ARN,
  adminArns: [ADMIN.principalArn],
  readerArns: [RUNTIME_ROLE_ARN],
  editorArns: [EDITOR.principalArn],
};

/** What the attested enclave reports: the manifest image (0, 1, 2, 8) and PCR3 of its role. */
const IMAGE = new Map(manifestPcrs(manifest));
IMAGE.set(3, Buffer.from(pcr3ForRoleArn(ENCLAVE_ROLE_ARN), 'hex'));

let ca: TestCa;
let h: Harness;
let admin: KMSClient;
let enclave: KMSClient;
let editor: KMSClient;
let runtime: KMSClient;
let other: KMSClient;
const recipientKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const spki = recipientKey.publicKey.export({ type: 'spki', format: 'der' });

beforeAll(async () => {
  ca = await createTestCa();
  h = await startHarness({ attestationRoot: ca.rootDer, accountId: ACCOUNT, principals: [ADMIN, ENCLAVE, EDITOR, RUNTIME, OTHER] });
  admin = h.client(ADMIN);
  enclave = h.client(ENCLAVE);
  editor = h.client(EDITOR);
  runtime = h.client(RUNTIME);
  other = h.client(OTHER);
});
afterAll(async () => h.close());

async function recipient(pcrs: Map<number, Uint8Array>, debug = false): Promise<{ AttestationDocument: Uint8Array; KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }> {
  const nsm = createSimulatedNsm({ ca, pcrs, debug });
  return { AttestationDocument: await nsm.attest({ publicKey: spki }), KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' };
}

function withPcr(index: number, fill: number): Map<number, Uint8Array> {
  const m = new Map(IMAGE);
  m.set(index, Buffer.alloc(48, fill));
  return m;
}

async function createKey(policy: object, spec: 'SYMMETRIC_DEFAULT' | 'ECC_NIST_P256' = 'SYMMETRIC_DEFAULT'): Promise<string> {
  const out = await admin.send(
    new CreateKeyCommand({ Policy: JSON.stringify(policy), KeySpec: spec, KeyUsage: spec === 'SYMMETRIC_DEFAULT' ? 'ENCRYPT_DECRYPT' : 'SIGN_VERIFY' }),
  );
  return out.KeyMetadata!.KeyId!;
}

async function denied(p: Promise<unknown>, how: RegExp = /./): Promise<void> {
  const e = await rejection(p);
  expect(e.name).toBe('AccessDeniedException');
  expect(e.message).toMatch(how);
}

const EXPLICIT = /explicit deny/;

const sopsVariants: Array<{ name: string; input: Partial<GenerateKeyPolicyInput>; pinned: number[] }> = [
  { name: 'PCR0/1/2', input: {}, pinned: [0, 1, 2] },
  { name: '+PCR3', input: { pcr3RoleArn: ENCLAVE_ROLE_ARN }, pinned: [0, 1, 2, 3] },
  { name: '+PCR8', input: { pinPcr8: true }, pinned: [0, 1, 2, 8] },
  { name: '+PCR3+PCR8', input: { pcr3RoleArn: ENCLAVE_ROLE_ARN, pinPcr8: true }, pinned: [0, 1, 2, 3, 8] },
];

describe.each(sopsVariants)('generated sops key policy ($name) in the KMS emulator', ({ input, pinned }) => {
  const DATA_KEY = Buffer.from('sops data key: 32 bytes of AES!!');
  let keyId: string;
  let blob: Uint8Array;
  beforeAll(async () => {
    keyId = await createKey(generateKeyPolicy({ ...base, key: 'sops', ...input }));
    // Editors encrypt SOPS data keys (sops encrypt).
    blob = (await editor.send(new EncryptCommand({ KeyId: keyId, Plaintext: DATA_KEY }))).CiphertextBlob!;
  });

  it('the attested image decrypts, and only the enclave key opens the result', async () => {
    const out = await enclave.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: await recipient(IMAGE) }));
    expect(out.Plaintext).toBeUndefined();
    expect(Buffer.from(openCiphertextForRecipient(out.CiphertextForRecipient!, recipientKey.privateKey))).toEqual(DATA_KEY);
  });

  it('any one wrong pinned PCR is denied explicitly', async () => {
    for (const i of pinned) await denied(enclave.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: await recipient(withPcr(i, 0xee)) })), EXPLICIT);
  });

  it('a PCR that is not pinned does not matter', async () => {
    const unpinned = [3, 8].find((i) => !pinned.includes(i));
    if (unpinned === undefined) return;
    const out = await enclave.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: await recipient(withPcr(unpinned, 0x77)) }));
    expect(out.CiphertextForRecipient).toBeDefined();
  });

  it('a debug-mode document (PCR0/1/2/8 zero) is denied', async () => {
    await denied(enclave.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: await recipient(IMAGE, true) })), EXPLICIT);
  });

  it('Decrypt without a Recipient is denied to everyone, the enclave role and the admin included', async () => {
    for (const c of [enclave, admin, editor, runtime, other]) await denied(c.send(new DecryptCommand({ CiphertextBlob: blob })), EXPLICIT);
  });

  it('other principals are denied even with the right image attestation', async () => {
    for (const c of [admin, editor, runtime, other]) {
      await denied(c.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: await recipient(IMAGE) })));
    }
  });

  it('the admin manages the key but cannot use it; the enclave cannot mint data keys', async () => {
    await denied(admin.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })));
    await denied(enclave.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 32, Recipient: await recipient(IMAGE) })));
    await admin.send(new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default', Policy: JSON.stringify(generateKeyPolicy({ ...base, key: 'sops', ...input })) }));
  });

  it('the Deny statements hold even when the account root is given kms:* (IAM delegation)', async () => {
    const policy = generateKeyPolicy({ ...base, key: 'sops', ...input });
    policy.Statement.push({ Sid: 'AccountRootEverything', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' });
    const k = await createKey(policy);
    const b = (await editor.send(new EncryptCommand({ KeyId: k, Plaintext: DATA_KEY }))).CiphertextBlob!;
    for (const c of [other, admin, enclave]) await denied(c.send(new DecryptCommand({ CiphertextBlob: b })), EXPLICIT);
    for (const i of pinned) await denied(other.send(new DecryptCommand({ CiphertextBlob: b, Recipient: await recipient(withPcr(i, 0x01)) })), EXPLICIT);
    // The right image is what the policy is for, whoever relays the request: the result is
    // encrypted to the attested key, so only that enclave can open it.
    const ok = await other.send(new DecryptCommand({ CiphertextBlob: b, Recipient: await recipient(IMAGE) }));
    expect(Buffer.from(openCiphertextForRecipient(ok.CiphertextForRecipient!, recipientKey.privateKey))).toEqual(DATA_KEY);
  });
});

describe('generated envelope key policy in the KMS emulator', () => {
  let keyId: string;
  beforeAll(async () => {
    keyId = await createKey(generateKeyPolicy({ ...base, key: 'envelope' }));
  });

  it('the enclave wraps a DEK with Encrypt (as clef pack) and the runtime unwraps it', async () => {
    const dek = Buffer.alloc(32, 0x42);
    const wrapped = (await enclave.send(new EncryptCommand({ KeyId: keyId, Plaintext: dek }))).CiphertextBlob!;
    const out = await runtime.send(new DecryptCommand({ CiphertextBlob: wrapped, KeyId: keyId }));
    expect(Buffer.from(out.Plaintext!)).toEqual(dek);
  });

  it('nobody else unwraps: not the enclave role, the admin or another principal', async () => {
    const wrapped = (await enclave.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.alloc(32, 1) }))).CiphertextBlob!;
    for (const c of [enclave, admin, other, editor]) await denied(c.send(new DecryptCommand({ CiphertextBlob: wrapped })));
  });

  it('only the enclave role wraps', async () => {
    for (const c of [admin, runtime, other]) await denied(c.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.alloc(32) })));
  });
});

describe('generated signing key policy in the KMS emulator', () => {
  let keyId: string;
  const digest = createHash('sha256').update('artifact signature payload').digest();
  beforeAll(async () => {
    keyId = await createKey(generateKeyPolicy({ ...base, key: 'signing' }), 'ECC_NIST_P256');
  });

  it('the enclave signs a digest (ECDSA_SHA_256, DIGEST); readers check it with the public key and Verify', async () => {
    const sig = await enclave.send(new SignCommand({ KeyId: keyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' }));
    const pub = await runtime.send(new GetPublicKeyCommand({ KeyId: keyId }));
    const key = createPublicKey({ key: Buffer.from(pub.PublicKey!), format: 'der', type: 'spki' });
    expect(verify('sha256', Buffer.from('artifact signature payload'), key, Buffer.from(sig.Signature!))).toBe(true);
    const v = await runtime.send(new VerifyCommand({ KeyId: keyId, Message: digest, MessageType: 'DIGEST', Signature: sig.Signature!, SigningAlgorithm: 'ECDSA_SHA_256' }));
    expect(v.SignatureValid).toBe(true);
  });

  it('RAW messages are refused (the policy pins MessageType DIGEST)', async () => {
    await denied(enclave.send(new SignCommand({ KeyId: keyId, Message: Buffer.from('raw'), MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' })));
  });

  it('nobody else signs, and non-readers cannot fetch the public key', async () => {
    for (const c of [admin, runtime, other]) {
      await denied(c.send(new SignCommand({ KeyId: keyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' })));
    }
    await denied(other.send(new GetPublicKeyCommand({ KeyId: keyId })));
  });
});
