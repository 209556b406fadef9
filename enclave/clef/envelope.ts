// The KMS envelope: a fresh 32-byte DEK encrypts the plaintext (AES-256-GCM, 12-byte IV,
// 16-byte tag, no AAD) and KMS Encrypt wraps the DEK — SYMMETRIC_DEFAULT and, like
// `clef pack`, no encryption context unless the caller opts in for its own reader.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export interface WrappedDek {
  /** Key id to record: the resolved key ARN Encrypt returned, else the manifest's. */
  keyId: string;
  wrappedKey: Uint8Array;
  /** Defaults to SYMMETRIC_DEFAULT. */
  algorithm?: string;
}

export interface DekWrapper {
  /** Provider recorded in the envelope (`aws`). */
  readonly provider: string;
  wrap(dek: Uint8Array): Promise<WrappedDek>;
}

/** KMS Encrypt as Clef calls it; `keyId` in the answer is the resolved key ARN. */
export type KmsEncryptDekFn = (req: {
  keyId: string;
  plaintext: Uint8Array;
  encryptionAlgorithm: 'SYMMETRIC_DEFAULT';
  encryptionContext?: Record<string, string>;
}) => Promise<{ ciphertextBlob: Uint8Array; keyId?: string }>;

/** KMS Decrypt as Clef's runtime calls it (KeyId, blob, algorithm; context only when opted in). */
export type KmsDecryptDekFn = (req: {
  keyId: string;
  ciphertextBlob: Uint8Array;
  encryptionAlgorithm: string;
  encryptionContext?: Record<string, string>;
}) => Promise<Uint8Array>;

/** The opt-in context binding an artifact's DEK to its identity and environment. */
export function artifactEncryptionContext(identity: string, environment: string): Record<string, string> {
  return { 'attested-pack:identity': identity, 'attested-pack:environment': environment };
}

export function kmsDekWrapper(keyId: string, encrypt: KmsEncryptDekFn, opts: { encryptionContext?: Record<string, string> } = {}): DekWrapper {
  return {
    provider: 'aws',
    async wrap(dek) {
      const r = await encrypt({
        keyId,
        plaintext: dek,
        encryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        ...(opts.encryptionContext === undefined ? {} : { encryptionContext: opts.encryptionContext }),
      });
      return { keyId: r.keyId ?? keyId, wrappedKey: r.ciphertextBlob, algorithm: 'SYMMETRIC_DEFAULT' };
    },
  };
}

export const GCM_IV_BYTES = 12;
export const GCM_TAG_BYTES = 16;

export function sealWithDek(dek: Uint8Array, plaintext: Uint8Array): { ciphertext: Buffer; iv: Buffer; authTag: Buffer } {
  const iv = randomBytes(GCM_IV_BYTES);
  const c = createCipheriv('aes-256-gcm', dek, iv, { authTagLength: GCM_TAG_BYTES });
  const ciphertext = Buffer.concat([c.update(plaintext), c.final()]);
  return { ciphertext, iv, authTag: c.getAuthTag() };
}

/** Throws on any authentication failure; IV and tag lengths are pinned (Clef's runtime does not). */
export function openWithDek(dek: Uint8Array, iv: Uint8Array, authTag: Uint8Array, ciphertext: Uint8Array): Buffer {
  if (dek.length !== 32) throw new Error(`DEK is ${dek.length} bytes, expected 32`);
  if (iv.length !== GCM_IV_BYTES) throw new Error(`IV is ${iv.length} bytes, expected ${GCM_IV_BYTES}`);
  if (authTag.length !== GCM_TAG_BYTES) throw new Error(`auth tag is ${authTag.length} bytes, expected ${GCM_TAG_BYTES}`);
  const d = createDecipheriv('aes-256-gcm', dek, iv, { authTagLength: GCM_TAG_BYTES });
  d.setAuthTag(authTag);
  return Buffer.concat([d.update(ciphertext), d.final()]);
}
