// Key policies that pin an enclave image, evaluated by the emulator on real SigV4-signed
// SDK requests with simulated attestation documents.
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { openCiphertextForRecipient } from '../enclave/cms.ts';
import { createTestCa, type TestCa } from '../simulator/attestation-issuer.ts';
import { createSimulatedNsm } from '../simulator/nsm.ts';
import { ACCOUNT, ADMIN, CI_USER, ENCLAVE_ROLE, rejection, startHarness, type Harness } from './kms-harness.ts';

const IMAGE = new Map([[0, Buffer.alloc(48, 0x10)], [1, Buffer.alloc(48, 0x11)], [2, Buffer.alloc(48, 0x12)]]);
const hex = (i: number): string => IMAGE.get(i)!.toString('hex');
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/enclave-role`;
const DECRYPT_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:GenerateRandom'];

/** Admin manages (and may encrypt); the enclave role may decrypt when the image matches;
 *  one Deny per PCR refuses every decrypt whose attested PCR is absent or different. */
const PINNED_POLICY = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'Admin', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
    {
      Sid: 'EnclaveDecrypt',
      Effect: 'Allow',
      Principal: { AWS: ROLE_ARN },
      Action: DECRYPT_ACTIONS,
      Resource: '*',
      Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR0': hex(0), 'kms:RecipientAttestation:PCR1': hex(1), 'kms:RecipientAttestation:PCR2': hex(2) } },
    },
    ...[0, 1, 2].map((i) => ({
      Sid: `DenyUnlessPCR${i}`,
      Effect: 'Deny',
      Principal: '*',
      Action: ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext'],
      Resource: '*',
      Condition: { StringNotEqualsIgnoreCase: { [`kms:RecipientAttestation:PCR${i}`]: hex(i).toUpperCase() } },
    })),
  ],
};

/** The same without the Deny statements. */
const ALLOW_ONLY_POLICY = { ...PINNED_POLICY, Statement: PINNED_POLICY.Statement.slice(0, 2) };

let ca: TestCa;
let h: Harness;
let admin: KMSClient;
let enclave: KMSClient;
let ci: KMSClient;
const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
const spki = pair.publicKey.export({ type: 'spki', format: 'der' });

beforeAll(async () => {
  ca = await createTestCa();
  h = await startHarness({ attestationRoot: ca.rootDer });
  admin = h.client(ADMIN);
  enclave = h.client(ENCLAVE_ROLE);
  ci = h.client(CI_USER);
});
afterAll(async () => h.close());

async function keyWith(policy: object): Promise<{ keyId: string; blob: Uint8Array }> {
  const keyId = (await admin.send(new CreateKeyCommand({ Policy: JSON.stringify(policy) }))).KeyMetadata!.KeyId!;
  const blob = (await admin.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('the data key') }))).CiphertextBlob!;
  return { keyId, blob };
}

async function doc(pcrs: Map<number, Uint8Array>, debug = false): Promise<{ AttestationDocument: Uint8Array; KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }> {
  const nsm = createSimulatedNsm({ ca, pcrs, debug });
  return { AttestationDocument: await nsm.attest({ publicKey: spki }), KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' };
}

describe('policy pinning PCR0/1/2 with explicit Deny', () => {
  let pinned: { keyId: string; blob: Uint8Array };
  beforeAll(async () => {
    pinned = await keyWith(PINNED_POLICY);
  });

  it('allows the attested image (Decrypt and GenerateDataKey)', async () => {
    const dec = await enclave.send(new DecryptCommand({ CiphertextBlob: pinned.blob, Recipient: await doc(IMAGE) }));
    expect(Buffer.from(openCiphertextForRecipient(dec.CiphertextForRecipient!, pair.privateKey)).toString()).toBe('the data key');
    const gdk = await enclave.send(new GenerateDataKeyCommand({ KeyId: pinned.keyId, NumberOfBytes: 32, Recipient: await doc(IMAGE) }));
    expect(openCiphertextForRecipient(gdk.CiphertextForRecipient!, pair.privateKey)).toHaveLength(32);
  });

  it('denies a document with one wrong PCR (each of 0, 1, 2)', async () => {
    for (const i of [0, 1, 2]) {
      const wrong = new Map(IMAGE);
      wrong.set(i, Buffer.alloc(48, 0xee));
      const e = await rejection(enclave.send(new DecryptCommand({ CiphertextBlob: pinned.blob, Recipient: await doc(wrong) })));
      expect(e.name).toBe('AccessDeniedException');
      expect(e.message).toMatch(/explicit deny/);
    }
  });

  it('denies Decrypt without a Recipient — even for the account admin', async () => {
    for (const client of [enclave, admin]) {
      const e = await rejection(client.send(new DecryptCommand({ CiphertextBlob: pinned.blob })));
      expect(e.name).toBe('AccessDeniedException');
      expect(e.message).toMatch(/explicit deny/);
    }
    const gdk = await rejection(admin.send(new GenerateDataKeyCommand({ KeyId: pinned.keyId, KeySpec: 'AES_256' })));
    expect(gdk.name).toBe('AccessDeniedException');
  });

  it('denies another principal presenting the right image, when it is not allowed (other account)', async () => {
    const outsider = h.client({ accessKeyId: 'AKIAEMULATOROUTSIDER', secretAccessKey: 'outsider-secret-key-for-tests-only-000000' });
    const e = await rejection(outsider.send(new DecryptCommand({ CiphertextBlob: pinned.blob, Recipient: await doc(IMAGE) })));
    expect(e.name).toBe('AccessDeniedException');
    expect(e.message).toMatch(/no resource-based policy allows/);
  });

  it('denies a debug-mode (all-zero PCR0/1/2) document', async () => {
    const e = await rejection(enclave.send(new DecryptCommand({ CiphertextBlob: pinned.blob, Recipient: await doc(IMAGE, true) })));
    expect(e.name).toBe('AccessDeniedException');
  });

  it('Encrypt stays possible for the admin (Clef wraps DEKs with Encrypt)', async () => {
    await admin.send(new EncryptCommand({ KeyId: pinned.keyId, Plaintext: Buffer.from('dek') }));
  });
});

describe('allow-only policy (no Deny) is fail-open', () => {
  it('the image condition on the Allow does not stop a plain Decrypt (no Recipient) by account principals', async () => {
    const { blob } = await keyWith(ALLOW_ONLY_POLICY);
    // Every account principal is covered by the root statement, so the enclave role itself
    // and any CI user decrypt in plaintext with no attestation at all. Condition keys only
    // exist when a Recipient is sent, so the PCR conditions on the enclave's Allow restrict
    // nothing; only an explicit Deny with StringNotEquals* (true when the key is absent)
    // closes this — which is why generated templates carry one Deny per pinned PCR.
    const asEnclave = await enclave.send(new DecryptCommand({ CiphertextBlob: blob }));
    expect(Buffer.from(asEnclave.Plaintext!).toString()).toBe('the data key');
    const plain = await ci.send(new DecryptCommand({ CiphertextBlob: blob }));
    expect(Buffer.from(plain.Plaintext!).toString()).toBe('the data key');
  });
});

describe('pitfall: one Deny with all PCRs in one condition block', () => {
  it('only fires when every PCR differs (conditions are ANDed), so one wrong PCR slips through an admin Allow', async () => {
    const combinedDeny = {
      Version: '2012-10-17',
      Statement: [
        PINNED_POLICY.Statement[0],
        {
          Sid: 'DenyUnlessImage',
          Effect: 'Deny',
          Principal: '*',
          Action: 'kms:Decrypt',
          Resource: '*',
          Condition: { StringNotEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR0': hex(0), 'kms:RecipientAttestation:PCR1': hex(1), 'kms:RecipientAttestation:PCR2': hex(2) } },
        },
      ],
    };
    const { blob } = await keyWith(combinedDeny);
    const wrong = new Map(IMAGE);
    wrong.set(2, Buffer.alloc(48, 0xee));
    const dec = await ci.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: await doc(wrong) }));
    expect(dec.CiphertextForRecipient).toBeDefined();
    // Without any Recipient all three keys are absent, so that Deny still fires.
    const e = await rejection(ci.send(new DecryptCommand({ CiphertextBlob: blob })));
    expect(e.name).toBe('AccessDeniedException');
  });
});

describe('encryption-context conditions', () => {
  it('kms:EncryptionContext:<key> restricts Decrypt', async () => {
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Sid: 'Admin', Effect: 'Allow', Principal: { AWS: ADMIN.principalArn }, Action: 'kms:*', Resource: '*' },
        { Sid: 'CiPayments', Effect: 'Allow', Principal: { AWS: CI_USER.principalArn }, Action: 'kms:Decrypt', Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:identity': 'payments' } } },
      ],
    };
    const keyId = (await admin.send(new CreateKeyCommand({ Policy: JSON.stringify(policy) }))).KeyMetadata!.KeyId!;
    const pay = await admin.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('p'), EncryptionContext: { identity: 'payments' } }));
    const web = await admin.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('w'), EncryptionContext: { identity: 'web' } }));
    await ci.send(new DecryptCommand({ CiphertextBlob: pay.CiphertextBlob, EncryptionContext: { identity: 'payments' } }));
    const e = await rejection(ci.send(new DecryptCommand({ CiphertextBlob: web.CiphertextBlob, EncryptionContext: { identity: 'web' } })));
    expect(e.name).toBe('AccessDeniedException');
  });
});

describe('ImageSha384 (= PCR0) pinning', () => {
  it('allows the image by kms:RecipientAttestation:ImageSha384 and denies another image or none', async () => {
    const policy = {
      Version: '2012-10-17',
      Statement: [
        PINNED_POLICY.Statement[0],
        {
          Sid: 'DenyOtherImages',
          Effect: 'Deny',
          Principal: '*',
          Action: 'kms:Decrypt',
          Resource: '*',
          Condition: { StringNotEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': hex(0) } },
        },
      ],
    };
    const { blob } = await keyWith(policy);
    const ok = await ci.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: await doc(IMAGE) }));
    expect(Buffer.from(openCiphertextForRecipient(ok.CiphertextForRecipient!, pair.privateKey)).toString()).toBe('the data key');
    const other = new Map(IMAGE);
    other.set(0, Buffer.alloc(48, 0x77));
    expect((await rejection(ci.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: await doc(other) })))).name).toBe('AccessDeniedException');
    expect((await rejection(ci.send(new DecryptCommand({ CiphertextBlob: blob })))).name).toBe('AccessDeniedException');
  });
});
