// CiphertextForRecipient: the emulator's builder against our opener and openssl, and the
// opener's refusal of every deviation from the KMS profile (crafted with pkijs here).
import { execFileSync } from 'node:child_process';
import { constants, createCipheriv, createHash, generateKeyPairSync, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as asn1js from 'asn1js';
import { AlgorithmIdentifier, ContentInfo, EncryptedContentInfo, EnvelopedData, KeyTransRecipientInfo, RecipientInfo, RSAESOAEPParams } from 'pkijs';
import { CmsError, openCiphertextForRecipient, parseCiphertextForRecipient } from '../enclave/cms.ts';
import { buildCiphertextForRecipient } from '../simulator/kms/cms-recipient.ts';
import { codeOf as codeOfError } from './error-codes.ts';

const ours = generateKeyPairSync('rsa', { modulusLength: 2048 });
const theirs = generateKeyPairSync('rsa', { modulusLength: 2048 });
const spki = (k: KeyObject): Buffer => k.export({ type: 'spki', format: 'der' });
const work = mkdtempSync(join(tmpdir(), 'kms-cms-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Variant {
  oaepHash?: 'sha1' | 'sha256';
  contentAlg?: 'aes-256-cbc' | 'aes-128-cbc';
  contentType?: string;
  recipients?: Array<{ key: KeyObject; ski?: Buffer }>;
}

const OID = { sha1: '1.3.14.3.2.26', sha256: '2.16.840.1.101.3.4.2.1', 'aes-256-cbc': '2.16.840.1.101.3.4.1.42', 'aes-128-cbc': '2.16.840.1.101.3.4.1.2' };

function craft(plaintext: Buffer, v: Variant = {}): Uint8Array {
  const hash = v.oaepHash ?? 'sha256';
  const alg = v.contentAlg ?? 'aes-256-cbc';
  const cek = randomBytes(alg === 'aes-256-cbc' ? 32 : 16);
  const iv = randomBytes(16);
  const c = createCipheriv(alg, cek, iv);
  const content = Buffer.concat([c.update(plaintext), c.final()]);
  const recipients = (v.recipients ?? [{ key: ours.publicKey }]).map(({ key, ski }) => {
    const h = new AlgorithmIdentifier({ algorithmId: OID[hash], algorithmParams: new asn1js.Null() });
    const params = hash === 'sha1' ? undefined : new RSAESOAEPParams({ hashAlgorithm: h, maskGenAlgorithm: new AlgorithmIdentifier({ algorithmId: '1.2.840.113549.1.1.8', algorithmParams: h.toSchema() }) }).toSchema();
    const ek = publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, cek);
    return new RecipientInfo({
      variant: 1,
      value: new KeyTransRecipientInfo({
        version: 2,
        rid: new asn1js.OctetString({ valueHex: new Uint8Array(ski ?? createHash('sha256').update(spki(key)).digest()).buffer }),
        keyEncryptionAlgorithm: new AlgorithmIdentifier({ algorithmId: '1.2.840.113549.1.1.7', ...(params === undefined ? {} : { algorithmParams: params }) }),
        encryptedKey: new asn1js.OctetString({ valueHex: new Uint8Array(ek).buffer }),
      }),
    });
  });
  const env = new EnvelopedData({
    version: 2,
    recipientInfos: recipients,
    encryptedContentInfo: new EncryptedContentInfo({
      contentType: '1.2.840.113549.1.7.1',
      contentEncryptionAlgorithm: new AlgorithmIdentifier({ algorithmId: OID[alg], algorithmParams: new asn1js.OctetString({ valueHex: new Uint8Array(iv).buffer }) }),
      encryptedContent: new asn1js.OctetString({ valueHex: new Uint8Array(content).buffer }),
    }),
  });
  return new Uint8Array(new ContentInfo({ contentType: v.contentType ?? '1.2.840.113549.1.7.3', content: env.toSchema() }).toSchema().toBER(false));
}

const codeOf = (fn: () => unknown): string => codeOfError(fn, CmsError);

describe('emulator builder', () => {
  it('builds the KMS shape: SKI = SHA-256(SPKI), 256-byte key, BER indefinite lengths; openssl and our opener agree', () => {
    const plaintext = randomBytes(100);
    const ber = buildCiphertextForRecipient(plaintext, spki(ours.publicKey));
    const parsed = parseCiphertextForRecipient(ber);
    expect(parsed.recipients).toHaveLength(1);
    expect(Buffer.from(parsed.recipients[0]!.subjectKeyIdentifier).equals(createHash('sha256').update(spki(ours.publicKey)).digest())).toBe(true);
    expect(parsed.recipients[0]!.encryptedKey).toHaveLength(256);
    // ContentInfo SEQUENCE with indefinite length (0x30 0x80) and end-of-contents at the end, like real KMS output.
    expect([ber[0], ber[1]]).toEqual([0x30, 0x80]);
    expect([ber[ber.length - 2], ber[ber.length - 1]]).toEqual([0, 0]);
    expect(Buffer.from(openCiphertextForRecipient(ber, ours.privateKey)).equals(plaintext)).toBe(true);
    writeFileSync(join(work, 'b.der'), ber);
    writeFileSync(join(work, 'k.pem'), ours.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const out = execFileSync('openssl', ['cms', '-decrypt', '-inform', 'DER', '-in', join(work, 'b.der'), '-inkey', join(work, 'k.pem'), '-binary']);
    expect(out.equals(plaintext)).toBe(true);
  });
});

describe('opener against crafted CMS', () => {
  it('a well-formed crafted message opens (the crafting matches the profile)', () => {
    expect(Buffer.from(openCiphertextForRecipient(craft(Buffer.from('ok')), ours.privateKey)).toString()).toBe('ok');
  });

  it('finds the recipient by trying the key, not only by subjectKeyIdentifier', () => {
    const ber = craft(Buffer.from('two recipients'), {
      recipients: [{ key: theirs.publicKey }, { key: ours.publicKey, ski: randomBytes(32) }],
    });
    expect(Buffer.from(openCiphertextForRecipient(ber, ours.privateKey)).toString()).toBe('two recipients');
    expect(Buffer.from(openCiphertextForRecipient(ber, theirs.privateKey)).toString()).toBe('two recipients');
  });

  it('refuses RSAES-OAEP with SHA-1 (default parameters)', () => {
    expect(codeOf(() => openCiphertextForRecipient(craft(Buffer.from('x'), { oaepHash: 'sha1' }), ours.privateKey))).toBe('CMS_UNSUPPORTED');
  });

  it('refuses AES-128-CBC content', () => {
    expect(codeOf(() => openCiphertextForRecipient(craft(Buffer.from('x'), { contentAlg: 'aes-128-cbc' }), ours.privateKey))).toBe('CMS_UNSUPPORTED');
  });

  it('refuses a ContentInfo that is not EnvelopedData', () => {
    expect(codeOf(() => openCiphertextForRecipient(craft(Buffer.from('x'), { contentType: '1.2.840.113549.1.7.2' }), ours.privateKey))).toBe('CMS_UNSUPPORTED');
  });
});
