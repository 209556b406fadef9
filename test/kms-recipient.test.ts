// Recipient → CiphertextForRecipient through the SDK: the emulator verifies the simulated
// attestation document and answers with CMS that `openssl cms -decrypt` and our own
// enclave/cms.ts both open with the recipient's private key — and never with Plaintext.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateDataKeyCommand, GenerateRandomCommand, type KMSClient } from '@aws-sdk/client-kms';
import { openCiphertextForRecipient } from '../enclave/cms.ts';
import { createTestCa, type TestCa } from '../simulator/attestation-issuer.ts';
import { createSimulatedNsm } from '../simulator/nsm.ts';
import { rejection, startHarness, type Harness } from './kms-harness.ts';

const IMAGE = new Map([[0, Buffer.alloc(48, 0xa0)], [1, Buffer.alloc(48, 0xa1)], [2, Buffer.alloc(48, 0xa2)]]);

let ca: TestCa;
let h: Harness;
let kms: KMSClient;
let keyId: string;
let recipientKey: KeyObject;
let spki: Buffer;
let work: string;

beforeAll(async () => {
  ca = await createTestCa();
  h = await startHarness({ attestationRoot: ca.rootDer });
  kms = h.client();
  keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  recipientKey = pair.privateKey;
  spki = pair.publicKey.export({ type: 'spki', format: 'der' });
  work = mkdtempSync(join(tmpdir(), 'kms-recipient-'));
  writeFileSync(join(work, 'key.pem'), recipientKey.export({ type: 'pkcs8', format: 'pem' }));
});
afterAll(async () => {
  await h.close();
  rmSync(work, { recursive: true, force: true });
});

async function recipient(publicKey: Uint8Array | null = spki, clock?: () => number): Promise<{ AttestationDocument: Uint8Array; KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }> {
  const nsm = createSimulatedNsm({ ca, pcrs: IMAGE, ...(clock === undefined ? {} : { clock }) });
  return { AttestationDocument: await nsm.attest({ publicKey }), KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' };
}

function opensslOpen(cms: Uint8Array): Buffer {
  const file = join(work, `cms-${Math.random().toString(36).slice(2)}.der`);
  writeFileSync(file, cms);
  return execFileSync('openssl', ['cms', '-decrypt', '-inform', 'DER', '-in', file, '-inkey', join(work, 'key.pem'), '-binary']);
}

describe('Recipient', () => {
  it('Decrypt returns CiphertextForRecipient (no Plaintext) that openssl and enclave/cms.ts open', async () => {
    const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('sops data key 0123456789abcdef!!'), EncryptionContext: { f: 'x' } }));
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { f: 'x' }, Recipient: await recipient() }));
    expect(dec.Plaintext).toBeUndefined();
    expect(dec.CiphertextForRecipient).toBeDefined();
    const cms = dec.CiphertextForRecipient!;
    expect(opensslOpen(cms).toString()).toBe('sops data key 0123456789abcdef!!');
    expect(Buffer.from(openCiphertextForRecipient(cms, recipientKey)).toString()).toBe('sops data key 0123456789abcdef!!');
  });

  it('GenerateDataKey with Recipient: the CMS holds the key that CiphertextBlob wraps', async () => {
    const gdk = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', Recipient: await recipient() }));
    expect(gdk.Plaintext).toBeUndefined();
    const dataKey = openCiphertextForRecipient(gdk.CiphertextForRecipient!, recipientKey);
    expect(dataKey).toHaveLength(32);
    expect(opensslOpen(gdk.CiphertextForRecipient!).equals(Buffer.from(dataKey))).toBe(true);
    const plain = await kms.send(new DecryptCommand({ CiphertextBlob: gdk.CiphertextBlob }));
    expect(Buffer.from(plain.Plaintext!).equals(Buffer.from(dataKey))).toBe(true);
  });

  it('GenerateRandom with Recipient returns the bytes only as CMS', async () => {
    const r = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 64, Recipient: await recipient() }));
    expect(r.Plaintext).toBeUndefined();
    expect(openCiphertextForRecipient(r.CiphertextForRecipient!, recipientKey)).toHaveLength(64);
  });

  it('another RSA key cannot open the CMS', async () => {
    const r = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 16, Recipient: await recipient() }));
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect(() => openCiphertextForRecipient(r.CiphertextForRecipient!, other)).toThrow(expect.objectContaining({ code: 'CMS_NO_RECIPIENT' }));
  });

  it('refuses a document older than 5 minutes', async () => {
    const stale = await recipient(spki, () => Date.now() - 6 * 60_000);
    const e = await rejection(kms.send(new GenerateRandomCommand({ NumberOfBytes: 16, Recipient: stale })));
    expect(e.name).toBe('ValidationException');
    expect(e.message).toMatch(/DOCUMENT_TOO_OLD/);
  });

  it('refuses a document from another root', async () => {
    const otherCa = await createTestCa();
    const doc = await createSimulatedNsm({ ca: otherCa, pcrs: IMAGE }).attest({ publicKey: spki });
    const e = await rejection(kms.send(new GenerateRandomCommand({ NumberOfBytes: 16, Recipient: { AttestationDocument: doc } })));
    expect(e.name).toBe('ValidationException');
    expect(e.message).toMatch(/CHAIN_UNTRUSTED_ROOT/);
  });

  it('refuses a tampered document', async () => {
    const r = await recipient();
    const doc = Buffer.from(r.AttestationDocument);
    doc[doc.length - 10] = (doc[doc.length - 10] ?? 0) ^ 0xff;
    const e = await rejection(kms.send(new GenerateRandomCommand({ NumberOfBytes: 16, Recipient: { ...r, AttestationDocument: doc } })));
    expect(e.name).toBe('ValidationException');
  });

  it('refuses a document without public_key, or with a non-RSA-2048 key', async () => {
    const none = await rejection(kms.send(new GenerateRandomCommand({ NumberOfBytes: 16, Recipient: await recipient(null) })));
    expect(none.name).toBe('ValidationException');
    expect(none.message).toMatch(/public_key/);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' });
    for (const key of [ec, rsa1024]) {
      const e = await rejection(kms.send(new GenerateRandomCommand({ NumberOfBytes: 16, Recipient: await recipient(key) })));
      expect(e.name).toBe('ValidationException');
      expect(e.message).toMatch(/RSA-2048/);
    }
  });
});
