// Expectations carried over from Clef's packages/core/src/artifact/packer.test.ts, run
// against our packArtifact through the KMS function seam (no network).
import { createCipheriv, createDecipheriv, generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { clefSignaturePayload, ed25519Signer, kmsDekWrapper, packArtifact, type KmsEncryptDekFn } from '../enclave/clef/index.ts';
import { newAgeKey } from './sops-support.ts';

const VALUES = { api: { DATABASE_URL: 'postgres://secret-host', API_KEY: 'sk-secret123' } };
const KEY = 'arn:aws:kms:us-east-1:111111111111:key/test-key';

/** A stand-in KMS: AES-GCM under a local master key, recording what it was asked. */
function fakeKms(resolvedKeyId?: string): { encrypt: KmsEncryptDekFn; calls: Array<{ keyId: string; plaintext: Uint8Array; original: Uint8Array; ctx?: Record<string, string> }>; unwrap(blob: Uint8Array): Buffer } {
  const master = randomBytes(32);
  const calls: Array<{ keyId: string; plaintext: Uint8Array; original: Uint8Array; ctx?: Record<string, string> }> = [];
  return {
    calls,
    encrypt: async ({ keyId, plaintext, encryptionContext }) => {
      calls.push({ keyId, plaintext: Uint8Array.from(plaintext), original: plaintext, ...(encryptionContext === undefined ? {} : { ctx: encryptionContext }) });
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', master, iv);
      const body = Buffer.concat([c.update(plaintext), c.final()]);
      return { ciphertextBlob: Buffer.concat([iv, c.getAuthTag(), body]), ...(resolvedKeyId === undefined ? {} : { keyId: resolvedKeyId }) };
    },
    unwrap(blob) {
      const d = createDecipheriv('aes-256-gcm', master, blob.subarray(0, 12));
      d.setAuthTag(blob.subarray(12, 28));
      return Buffer.concat([d.update(blob.subarray(28)), d.final()]);
    },
  };
}

describe('packer expectations from Clef', () => {
  it('age: version/identity/environment, hex hash, base64 ciphertext, no plaintext, no keys field, no ttl → no expiresAt, unsigned → no signature fields', async () => {
    const id = await newAgeKey();
    const { json, keys } = await packArtifact({ identity: 'api-gateway', environment: 'dev', values: VALUES, target: { recipient: id.recipient } });
    const a = JSON.parse(json) as Record<string, unknown>;
    expect(a).toMatchObject({ version: 1, identity: 'api-gateway', environment: 'dev' });
    expect(a.ciphertextHash).toMatch(/^[0-9a-f]{64}$/);
    expect(typeof a.ciphertext).toBe('string');
    expect(json).not.toContain('"0":');
    expect(json).not.toContain('postgres://secret-host');
    expect(json).not.toContain('sk-secret123');
    expect(a.keys).toBeUndefined();
    expect(a.expiresAt).toBeUndefined();
    expect(a.signature).toBeUndefined();
    expect(a.signatureAlgorithm).toBeUndefined();
    expect(a.envelope).toBeUndefined();
    expect(keys).toEqual(['api__DATABASE_URL', 'api__API_KEY']);
  });

  it('ttl: expiresAt = pack time + ttl, and the signature covers it', async () => {
    const id = await newAgeKey();
    const ed = generateKeyPairSync('ed25519');
    const before = Date.now();
    const { artifact } = await packArtifact({ identity: 'x', environment: 'dev', values: VALUES, target: { recipient: id.recipient }, ttlSeconds: 3600, signer: ed25519Signer(ed.privateKey) });
    const after = Date.now();
    const exp = Date.parse(artifact.expiresAt ?? '');
    expect(exp).toBeGreaterThanOrEqual(before + 3600_000);
    expect(exp).toBeLessThanOrEqual(after + 3600_000);
    const payload = clefSignaturePayload(artifact);
    expect(Buffer.from(payload).toString('utf8')).toContain(artifact.expiresAt ?? '?');
    expect(verify(null, payload, ed.publicKey, Buffer.from(artifact.signature ?? '', 'base64'))).toBe(true);
    expect(artifact.signatureAlgorithm).toBe('Ed25519');
  });

  it('kms: Encrypt gets a fresh 32-byte DEK and no context; resolved key ARN preferred, manifest ARN as fallback; the DEK opens the payload', async () => {
    const resolved = 'arn:aws:kms:us-east-1:111111111111:key/resolved';
    const kms = fakeKms(resolved);
    const { artifact } = await packArtifact({ identity: 'x', environment: 'dev', values: { api: { SECRET: 'round-trip-value' } }, target: { dekWrapper: kmsDekWrapper('arn:aws:kms:us-east-1:111111111111:alias/app', kms.encrypt) } });
    expect(kms.calls).toHaveLength(1);
    expect(kms.calls[0]?.keyId).toBe('arn:aws:kms:us-east-1:111111111111:alias/app');
    expect(kms.calls[0]?.plaintext).toHaveLength(32);
    expect(kms.calls[0]?.ctx).toBeUndefined();
    expect(artifact.envelope).toMatchObject({ provider: 'aws', keyId: resolved, algorithm: 'SYMMETRIC_DEFAULT' });
    const env = artifact.envelope;
    if (env === undefined) throw new Error('no envelope');
    const dek = kms.unwrap(Buffer.from(env.wrappedKey, 'base64'));
    const d = createDecipheriv('aes-256-gcm', dek, Buffer.from(env.iv, 'base64'));
    d.setAuthTag(Buffer.from(env.authTag, 'base64'));
    const plain = Buffer.concat([d.update(Buffer.from(artifact.ciphertext, 'base64')), d.final()]).toString('utf8');
    expect(JSON.parse(plain)).toEqual({ api: { SECRET: 'round-trip-value' } });
    // The DEK buffer handed to KMS is overwritten once the artifact is sealed.
    expect(kms.calls[0]?.original.every((b) => b === 0)).toBe(true);
    expect(kms.calls[0]?.plaintext.some((b) => b !== 0)).toBe(true);
    const noResolved = fakeKms();
    const second = await packArtifact({ identity: 'x', environment: 'dev', values: VALUES, target: { dekWrapper: kmsDekWrapper(KEY, noResolved.encrypt) } });
    expect(second.artifact.envelope?.keyId).toBe(KEY);
  });

  it('a failing KMS makes pack fail with PACK_FAILED and no artifact', async () => {
    const failing: KmsEncryptDekFn = async () => {
      throw new Error('AccessDeniedException');
    };
    await expect(packArtifact({ identity: 'x', environment: 'dev', values: VALUES, target: { dekWrapper: kmsDekWrapper(KEY, failing) } })).rejects.toMatchObject({ code: 'PACK_FAILED' });
  });
});
