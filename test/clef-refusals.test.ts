// The remaining artifact refusal paths, one each, on validly signed artifacts where the
// signature would otherwise pass (so the named check is the one that refuses).
import { generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { Encrypter } from 'age-encryption';
import {
  ciphertextHash, clefSignaturePayload, compareRevisions, ed25519Signer, packArtifact, readArtifact, serializeArtifact, type PackedArtifact,
} from '../enclave/clef/index.ts';
import { newAgeKey, type AgeKeyPair } from './sops-support.ts';

const ed = generateKeyPairSync('ed25519');
let id: AgeKeyPair;
beforeAll(async () => {
  id = await newAgeKey();
});

async function signed(a: PackedArtifact): Promise<string> {
  const b: PackedArtifact = { ...a, signatureAlgorithm: 'Ed25519' };
  delete b.signature;
  b.signature = Buffer.from(await ed25519Signer(ed.privateKey).sign(clefSignaturePayload(b))).toString('base64');
  return serializeArtifact(b);
}

async function refusedWith(json: string, extra: object = {}): Promise<string | undefined> {
  return readArtifact(json, { verifyKey: ed.publicKey, ageIdentities: [id.identity], ...extra }).then(() => undefined, (e: { code?: string }) => e.code);
}

describe('artifact refusals', () => {
  it('a signed artifact whose payload is not {ns: {key: string}} → ARTIFACT_DECRYPT_FAILED', async () => {
    for (const payload of ['not json', '[1,2]', '{"ns": {"K": 1}}', '{"ns": "flat"}']) {
      const e = new Encrypter();
      e.addRecipient(id.recipient);
      const ciphertext = Buffer.from(await e.encrypt(payload)).toString('base64');
      const base = (await packArtifact({ identity: 'a', environment: 'e', values: {}, target: { recipient: id.recipient } })).artifact;
      expect(await refusedWith(await signed({ ...base, ciphertext, ciphertextHash: ciphertextHash(ciphertext) }))).toBe('ARTIFACT_DECRYPT_FAILED');
    }
  });

  it('malformed fields → ARTIFACT_MALFORMED (revision shape under a rollback floor, times, envelope, algorithm, base64)', async () => {
    const base = (await packArtifact({ identity: 'a', environment: 'e', values: { n: { K: 'v' } }, target: { recipient: id.recipient } })).artifact;
    expect(await refusedWith(await signed({ ...base, revision: 'r1' }), { minRevision: '1-00000000' })).toBe('ARTIFACT_MALFORMED');
    expect(await refusedWith(await signed({ ...base, expiresAt: 'tomorrow' }))).toBe('ARTIFACT_MALFORMED');
    expect(await refusedWith(await signed({ ...base, packedAt: 'today' }))).toBe('ARTIFACT_MALFORMED');
    const noIv = JSON.parse(await signed(base)) as Record<string, unknown>;
    noIv.envelope = { provider: 'aws', keyId: 'k', wrappedKey: 'AA==', algorithm: 'SYMMETRIC_DEFAULT', authTag: 'AA==' };
    expect(await refusedWith(JSON.stringify(noIv))).toBe('ARTIFACT_MALFORMED');
    const badAlg = JSON.parse(await signed(base)) as Record<string, unknown>;
    badAlg.signatureAlgorithm = 'RSA';
    expect(await refusedWith(JSON.stringify(badAlg))).toBe('ARTIFACT_MALFORMED');
    const nonCanonical = await signed({ ...base, ciphertext: `${base.ciphertext}\n`, ciphertextHash: ciphertextHash(`${base.ciphertext}\n`) });
    expect(await refusedWith(nonCanonical)).toBe('ARTIFACT_MALFORMED');
    expect(() => compareRevisions('1-00000000', 'x')).toThrow(expect.objectContaining({ code: 'ARTIFACT_MALFORMED' }));
  });

  it('an RSA verify key cannot check a signature → ARTIFACT_SIGNATURE_INVALID', async () => {
    const base = (await packArtifact({ identity: 'a', environment: 'e', values: {}, target: { recipient: id.recipient } })).artifact;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    expect(await refusedWith(await signed(base), { verifyKey: rsa })).toBe('ARTIFACT_SIGNATURE_INVALID');
  });

  it('a same-millisecond sibling revision counts as a rollback', async () => {
    const base = (await packArtifact({ identity: 'a', environment: 'e', values: {}, target: { recipient: id.recipient }, now: () => 1_800_000_000_000 })).artifact;
    // Change the suffix's first hex digit to one it is not, so the floor always differs.
    const suffix = base.revision.split('-')[1] as string;
    const floor = `1800000000000-${suffix.startsWith('0') ? '1' : '0'}${suffix.slice(1)}`;
    expect(floor).not.toBe(base.revision);
    expect(await refusedWith(await signed(base), { minRevision: floor })).toBe('ARTIFACT_ROLLBACK');
    expect(await refusedWith(await signed(base), { minRevision: base.revision })).toBeUndefined();
  });
});
