// Clef artifact v1: Clef's pinned vectors, the exact shape `clef pack` writes, acceptance
// by Clef's own runtime verification steps (re-implemented below from
// packages/runtime/src/{poller,artifact-decryptor,decrypt}.ts and core's signer.ts,
// independent of our reader), KMS envelopes and ECDSA signatures through the KMS emulator,
// and a tamper matrix against our fail-closed reader.
import { createDecipheriv, createHash, createPublicKey, generateKeyPairSync, verify as cryptoVerify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Decrypter } from 'age-encryption';
import { CreateAliasCommand, CreateKeyCommand, GetPublicKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import {
  ClefError, RevisionTracker, artifactEncryptionContext, ciphertextHash, clefSignaturePayload, ed25519Signer, kmsDekWrapper,
  kmsEcdsaSigner, packArtifact, readArtifact, serializeArtifact, type PackedArtifact, type ReadArtifactOptions,
} from '../enclave/clef/index.ts';
import { sdkKmsDecryptDek, sdkKmsEncryptDek, sdkKmsSign } from '../enclave/clef/kms-sdk.ts';
import { startHarness, type Harness } from './kms-harness.ts';
import { newAgeKey, type AgeKeyPair } from './sops-support.ts';

const VALUES = { database: { DB_PASSWORD: 'hunter2', DB_PORT: '5432' }, auth: { JWT_SECRET: 's3cr3t ✓' } };

/** Clef's runtime, step by step (poller.fetchRaw/validateArtifact + ArtifactDecryptor). */
async function clefRuntimeAccepts(json: string, opts: { verifyKey?: string; ageKey?: string; kmsUnwrap?: (keyId: string, wrapped: Buffer, alg: string) => Promise<Uint8Array> }): Promise<unknown> {
  const a = JSON.parse(json) as Record<string, unknown> & PackedArtifact;
  if (a.revokedAt) throw new Error('Artifact revoked');
  // assertPackedArtifact (core/src/artifact/guards.ts)
  if (a.version !== 1) throw new Error('unsupported version');
  for (const f of ['identity', 'environment', 'packedAt', 'revision', 'ciphertextHash', 'ciphertext'] as const) {
    if (typeof a[f] !== 'string') throw new Error(`missing ${f}`);
  }
  if (a.signatureAlgorithm !== undefined && !['Ed25519', 'ECDSA_SHA256'].includes(a.signatureAlgorithm)) throw new Error('bad alg');
  // validateEnvelope
  if (!a.ciphertext || !a.revision || !a.ciphertextHash) throw new Error('Invalid artifact: missing required fields.');
  if (a.envelope && Object.values(a.envelope).some((v) => !v)) throw new Error('Invalid artifact: incomplete envelope fields.');
  if (a.expiresAt && Date.now() > new Date(a.expiresAt).getTime()) throw new Error('Artifact expired');
  if (createHash('sha256').update(a.ciphertext).digest('hex') !== a.ciphertextHash) throw new Error('Artifact integrity check failed');
  if (opts.verifyKey) {
    if (!a.signature) throw new Error('unsigned');
    const payload = Buffer.from([
      'clef-sig-v3', String(a.version), a.identity, a.environment, a.revision, a.packedAt, a.ciphertextHash, a.expiresAt ?? '',
      a.envelope?.provider ?? '', a.envelope?.keyId ?? '', a.envelope?.wrappedKey ?? '', a.envelope?.algorithm ?? '', a.envelope?.iv ?? '', a.envelope?.authTag ?? '',
    ].join('\n'), 'utf-8');
    const key = createPublicKey({ key: Buffer.from(opts.verifyKey, 'base64'), format: 'der', type: 'spki' });
    const sig = Buffer.from(a.signature, 'base64');
    const ok = key.asymmetricKeyType === 'ed25519' ? cryptoVerify(null, payload, key, sig) : cryptoVerify('sha256', payload, key, sig);
    if (!ok) throw new Error('Artifact signature verification failed');
  }
  let plaintext: string;
  if (a.envelope) {
    if (opts.kmsUnwrap === undefined) throw new Error('no kms');
    const dek = await opts.kmsUnwrap(a.envelope.keyId, Buffer.from(a.envelope.wrappedKey, 'base64'), a.envelope.algorithm);
    const d = createDecipheriv('aes-256-gcm', dek, Buffer.from(a.envelope.iv, 'base64'));
    d.setAuthTag(Buffer.from(a.envelope.authTag, 'base64'));
    plaintext = Buffer.concat([d.update(Buffer.from(a.ciphertext, 'base64')), d.final()]).toString('utf-8');
  } else {
    const d = new Decrypter();
    d.addIdentity(opts.ageKey ?? '');
    plaintext = await d.decrypt(Buffer.from(a.ciphertext, 'base64'), 'text');
  }
  return JSON.parse(plaintext);
}

function spkiB64(k: ReturnType<typeof generateKeyPairSync>['publicKey']): string {
  return k.export({ type: 'spki', format: 'der' }).toString('base64');
}

describe('Clef vectors', () => {
  it('ciphertextHash is SHA-256 hex of the base64 string (Clef envelope-debug fixture)', () => {
    expect(ciphertextHash('ZmFrZS1hZ2UtY2lwaGVydGV4dC1mb3ItdGVzdGluZw==')).toBe('b555077dd41b180ebae2c2fc96665cebe1b9c164ca418c2b132786fdbec267fb');
    expect(ciphertextHash('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('signature payload matches the locked clef-sig-v3 layout (runtime/src/signature.test.ts)', () => {
    const a: PackedArtifact = {
      version: 1, identity: 'api-gateway', environment: 'production', revision: '1711101600000-a1b2c3d4',
      packedAt: '2026-03-22T10:00:00.000Z', ciphertextHash: 'abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789',
      ciphertext: 'dGVzdC1jaXBoZXJ0ZXh0', expiresAt: '2026-03-22T12:00:00.000Z',
      envelope: {
        provider: 'aws', keyId: 'arn:aws:kms:us-east-1:123456789012:key/abcd-1234', wrappedKey: 'd3JhcHBlZC1hZ2Uta2V5LWhlcmU=',
        algorithm: 'SYMMETRIC_DEFAULT', iv: 'dGVzdC1pdi0xMjM0', authTag: 'dGVzdC1hdXRoLXRhZy0xMjM0NTY=',
      },
    };
    const payload = Buffer.from(clefSignaturePayload(a)).toString('utf8');
    expect(payload).toBe([
      'clef-sig-v3', '1', 'api-gateway', 'production', '1711101600000-a1b2c3d4', '2026-03-22T10:00:00.000Z',
      'abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789', '2026-03-22T12:00:00.000Z', 'aws',
      'arn:aws:kms:us-east-1:123456789012:key/abcd-1234', 'd3JhcHBlZC1hZ2Uta2V5LWhlcmU=', 'SYMMETRIC_DEFAULT', 'dGVzdC1pdi0xMjM0', 'dGVzdC1hdXRoLXRhZy0xMjM0NTY=',
    ].join('\n'));
    const noEnvelope = Buffer.from(clefSignaturePayload({ ...a, envelope: undefined, expiresAt: undefined } as PackedArtifact)).toString('utf8');
    expect(noEnvelope.split('\n')).toHaveLength(14);
    expect(noEnvelope.endsWith('\n\n\n\n\n\n\n')).toBe(true);
  });
});

describe('age artifact, Ed25519 signature', () => {
  let id: AgeKeyPair;
  const ed = generateKeyPairSync('ed25519');
  let json: string;
  beforeAll(async () => {
    id = await newAgeKey();
    json = (await packArtifact({
      identity: 'api-gateway', environment: 'production', values: VALUES, target: { recipient: id.recipient },
      signer: ed25519Signer(ed.privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64')), ttlSeconds: 3600,
    })).json;
  });

  it('has Clef’s key order, 2-space printing and field formats', () => {
    const a = JSON.parse(json) as Record<string, string>;
    expect(Object.keys(a)).toEqual(['version', 'identity', 'environment', 'packedAt', 'revision', 'ciphertextHash', 'ciphertext', 'expiresAt', 'signature', 'signatureAlgorithm']);
    expect(json).toBe(JSON.stringify(a, null, 2));
    expect(a.revision).toMatch(/^\d{13}-[0-9a-f]{8}$/);
    expect(a.packedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Date.parse(a.expiresAt ?? '') - Date.parse(a.packedAt ?? '')).toBe(3600_000);
    expect(a.signatureAlgorithm).toBe('Ed25519');
    // Binary (not armored) age file.
    expect(Buffer.from(a.ciphertext ?? '', 'base64').subarray(0, 21).toString()).toBe('age-encryption.org/v1');
  });

  it('passes Clef’s runtime verification steps and decrypts to the compact payload', async () => {
    expect(await clefRuntimeAccepts(json, { verifyKey: spkiB64(ed.publicKey), ageKey: id.identity })).toEqual(VALUES);
  });

  it('opens with our reader', async () => {
    const r = await readArtifact(json, { expect: { identity: 'api-gateway', environment: 'production' }, verifyKey: spkiB64(ed.publicKey), ageIdentities: [id.identity] });
    expect(r.values).toEqual(VALUES);
    expect(r.keys).toEqual(['database__DB_PASSWORD', 'database__DB_PORT', 'auth__JWT_SECRET']);
  });
});

describe('KMS envelope + ECDSA (KMS emulator)', () => {
  let h: Harness;
  let kms: KMSClient;
  let keyArn: string;
  let aliasArn: string;
  let signArn: string;
  let verifyKey: string;
  const clientFor = (): KMSClient => kms;

  beforeAll(async () => {
    h = await startHarness();
    kms = h.client();
    keyArn = (await kms.send(new CreateKeyCommand({ Description: 'artifact DEK wrap' }))).KeyMetadata?.Arn ?? '';
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/clef-artifacts', TargetKeyId: keyArn }));
    aliasArn = keyArn.replace(/key\/.*/, 'alias/clef-artifacts');
    signArn = (await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata?.Arn ?? '';
    const pub = await kms.send(new GetPublicKeyCommand({ KeyId: signArn }));
    verifyKey = Buffer.from(pub.PublicKey ?? new Uint8Array()).toString('base64');
  });
  afterAll(async () => h.close());

  async function pack(opts: { context?: boolean; ttl?: number; now?: () => number } = {}): Promise<string> {
    return (await packArtifact({
      identity: 'worker', environment: 'staging', values: VALUES,
      target: { dekWrapper: kmsDekWrapper(aliasArn, sdkKmsEncryptDek(clientFor), opts.context === true ? { encryptionContext: artifactEncryptionContext('worker', 'staging') } : {}) },
      signer: kmsEcdsaSigner(signArn, sdkKmsSign(clientFor)),
      ...(opts.ttl === undefined ? {} : { ttlSeconds: opts.ttl }),
      ...(opts.now === undefined ? {} : { now: opts.now }),
    })).json;
  }

  const base = (): ReadArtifactOptions => ({ expect: { identity: 'worker', environment: 'staging' }, verifyKey, kmsDecrypt: sdkKmsDecryptDek(clientFor) });

  it('writes the envelope as clef pack does: resolved key ARN, SYMMETRIC_DEFAULT, 12-byte IV, 16-byte tag, DER ECDSA', async () => {
    const a = JSON.parse(await pack()) as PackedArtifact;
    expect(Object.keys(a)).toEqual(['version', 'identity', 'environment', 'packedAt', 'revision', 'ciphertextHash', 'ciphertext', 'envelope', 'signature', 'signatureAlgorithm']);
    expect(Object.keys(a.envelope ?? {})).toEqual(['provider', 'keyId', 'wrappedKey', 'algorithm', 'iv', 'authTag']);
    expect(a.envelope).toMatchObject({ provider: 'aws', keyId: keyArn, algorithm: 'SYMMETRIC_DEFAULT' });
    expect(Buffer.from(a.envelope?.iv ?? '', 'base64')).toHaveLength(12);
    expect(Buffer.from(a.envelope?.authTag ?? '', 'base64')).toHaveLength(16);
    expect(a.signatureAlgorithm).toBe('ECDSA_SHA256');
    expect(Buffer.from(a.signature ?? '', 'base64')[0]).toBe(0x30);
  });

  it('passes Clef’s runtime verification steps (KMS Decrypt without context) and our reader', async () => {
    const json = await pack();
    const unwrap = sdkKmsDecryptDek(clientFor);
    const kmsUnwrap = async (keyId: string, wrapped: Buffer, alg: string): Promise<Uint8Array> => unwrap({ keyId, ciphertextBlob: wrapped, encryptionAlgorithm: alg });
    expect(await clefRuntimeAccepts(json, { verifyKey, kmsUnwrap })).toEqual(VALUES);
    expect((await readArtifact(json, base())).values).toEqual(VALUES);
  });

  it('opt-in encryption context: our reader binds identity/environment; a context-less Decrypt fails', async () => {
    const json = await pack({ context: true });
    expect((await readArtifact(json, { ...base(), bindEncryptionContext: true })).values).toEqual(VALUES);
    await expect(readArtifact(json, base())).rejects.toMatchObject({ code: 'ARTIFACT_KEY_UNAVAILABLE' });
  });

  describe('tamper matrix (each field flipped is refused; no plaintext returned)', () => {
    let json: string;
    beforeAll(async () => {
      json = await pack({ ttl: 3600 });
    });
    const edit = (f: (a: Record<string, unknown> & { envelope: Record<string, string> }) => void): string => {
      const a = JSON.parse(json) as Record<string, unknown> & { envelope: Record<string, string> };
      f(a);
      return JSON.stringify(a, null, 2);
    };
    const flip = (s: string): string => (s.startsWith('A') ? `B${s.slice(1)}` : `A${s.slice(1)}`);
    const cases: Array<[string, () => string, string, Partial<ReadArtifactOptions>?]> = [
      ['version', () => edit((a) => { a.version = 2; }), 'ARTIFACT_MALFORMED'],
      ['identity (expected binding)', () => edit((a) => { a.identity = 'other'; }), 'ARTIFACT_IDENTITY_MISMATCH'],
      ['identity (signature)', () => edit((a) => { a.identity = 'other'; }), 'ARTIFACT_SIGNATURE_INVALID', { expect: { identity: 'other', environment: 'staging' } }],
      ['environment', () => edit((a) => { a.environment = 'production'; }), 'ARTIFACT_IDENTITY_MISMATCH'],
      ['packedAt', () => edit((a) => { a.packedAt = '2020-01-01T00:00:00.000Z'; }), 'ARTIFACT_SIGNATURE_INVALID'],
      ['revision', () => edit((a) => { a.revision = `${Date.now() + 1000}-00000000`; }), 'ARTIFACT_SIGNATURE_INVALID'],
      ['ciphertextHash', () => edit((a) => { a.ciphertextHash = '0'.repeat(64); }), 'ARTIFACT_HASH_MISMATCH'],
      ['ciphertext', () => edit((a) => { a.ciphertext = flip(String(a.ciphertext)); }), 'ARTIFACT_HASH_MISMATCH'],
      ['ciphertext + matching hash', () => edit((a) => { a.ciphertext = flip(String(a.ciphertext)); a.ciphertextHash = ciphertextHash(String(a.ciphertext)); }), 'ARTIFACT_SIGNATURE_INVALID'],
      ['envelope.provider', () => edit((a) => { a.envelope.provider = 'gcp'; }), 'ARTIFACT_SIGNATURE_INVALID'],
      ['envelope.keyId', () => edit((a) => { a.envelope.keyId = aliasArn; }), 'ARTIFACT_SIGNATURE_INVALID'],
      ['envelope.wrappedKey', () => edit((a) => { a.envelope.wrappedKey = flip(a.envelope.wrappedKey ?? ''); }), 'ARTIFACT_SIGNATURE_INVALID'],
      ['envelope.algorithm', () => edit((a) => { a.envelope.algorithm = 'RSAES_OAEP_SHA_256'; }), 'ARTIFACT_SIGNATURE_INVALID'],
      ['envelope.iv', () => edit((a) => { a.envelope.iv = flip(a.envelope.iv ?? ''); }), 'ARTIFACT_SIGNATURE_INVALID'],
      ['envelope.authTag', () => edit((a) => { a.envelope.authTag = flip(a.envelope.authTag ?? ''); }), 'ARTIFACT_SIGNATURE_INVALID'],
      ['envelope removed', () => edit((a) => { delete (a as { envelope?: unknown }).envelope; }), 'ARTIFACT_SIGNATURE_INVALID'],
      ['expiresAt extended', () => edit((a) => { a.expiresAt = '2999-01-01T00:00:00.000Z'; }), 'ARTIFACT_SIGNATURE_INVALID'],
      ['expiresAt removed', () => edit((a) => { delete a.expiresAt; }), 'ARTIFACT_SIGNATURE_INVALID'],
      ['signature', () => edit((a) => { a.signature = flip(String(a.signature)); }), 'ARTIFACT_SIGNATURE_INVALID'],
      ['signature removed', () => edit((a) => { delete a.signature; }), 'ARTIFACT_SIGNATURE_MISSING'],
      ['revokedAt added', () => edit((a) => { a.revokedAt = '2026-01-01T00:00:00.000Z'; }), 'ARTIFACT_REVOKED'],
      ['revoked stub', () => JSON.stringify({ version: 1, identity: 'worker', environment: 'staging', revokedAt: '2026-01-01T00:00:00.000Z' }), 'ARTIFACT_REVOKED'],
      ['expired (clock moved past expiresAt)', () => json, 'ARTIFACT_EXPIRED', { now: () => Date.now() + 7200_000 }],
      ['rollback (older than the minimum)', () => json, 'ARTIFACT_ROLLBACK', { minRevision: `${Date.now() + 60_000}-00000000` }],
      ['no verify key and unsigned not allowed', () => json, 'ARTIFACT_SIGNATURE_MISSING', { verifyKey: undefined }],
      ['signed by another key', () => json, 'ARTIFACT_SIGNATURE_INVALID', { verifyKey: spkiB64(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey) }],
      ['no KMS access configured', () => json, 'ARTIFACT_KEY_UNAVAILABLE', { kmsDecrypt: undefined }],
      ['not JSON', () => '{', 'ARTIFACT_MALFORMED'],
    ];
    for (const [name, make, code, extra] of cases) {
      it(`${name} → ${code}`, async () => {
        const opts: ReadArtifactOptions = { ...base(), ...extra };
        if (extra !== undefined && 'verifyKey' in extra && extra.verifyKey === undefined) delete opts.verifyKey;
        const e = await readArtifact(make(), opts).then(() => undefined, (x: unknown) => x);
        expect(e).toBeInstanceOf(ClefError);
        expect((e as ClefError).code).toBe(code);
        expect((e as Error).message).not.toContain('hunter2');
      });
    }

    it('re-checks expiry and rollback on every read of the same artifact', async () => {
      const tracker = new RevisionTracker();
      const newer = await pack({ now: () => Date.now() + 1000 });
      expect((await readArtifact(newer, { ...base(), revisions: tracker })).values).toEqual(VALUES);
      expect((await readArtifact(newer, { ...base(), revisions: tracker })).values).toEqual(VALUES);
      await expect(readArtifact(json, { ...base(), revisions: tracker })).rejects.toMatchObject({ code: 'ARTIFACT_ROLLBACK' });
      await expect(readArtifact(newer, { ...base(), revisions: tracker, now: () => Date.now() + 10 * 3600_000 })).resolves.toBeDefined();
      const expiring = await pack({ ttl: 60, now: () => Date.now() + 2000 });
      await readArtifact(expiring, { ...base(), revisions: tracker });
      await expect(readArtifact(expiring, { ...base(), revisions: tracker, now: () => Date.now() + 3600_000 })).rejects.toMatchObject({ code: 'ARTIFACT_EXPIRED' });
    });
  });

  it('pins the 12-byte IV and 16-byte tag even on a validly signed artifact', async () => {
    const ed = generateKeyPairSync('ed25519');
    const good = JSON.parse(await pack()) as PackedArtifact;
    for (const [field, bytes] of [['iv', 16], ['authTag', 12]] as const) {
      const a: PackedArtifact = { ...good, envelope: { ...(good.envelope as NonNullable<PackedArtifact['envelope']>), [field]: Buffer.alloc(bytes, 1).toString('base64') } };
      a.signature = Buffer.from(await ed25519Signer(ed.privateKey).sign(clefSignaturePayload(a))).toString('base64');
      a.signatureAlgorithm = 'Ed25519';
      await expect(readArtifact(serializeArtifact(a), { ...base(), verifyKey: spkiB64(ed.publicKey) })).rejects.toMatchObject({ code: 'ARTIFACT_DECRYPT_FAILED' });
    }
  });
});
