// The emulator's CiphertextBlob: opaque to clients, tamper-evident and tied to its key.
//   "APK1" | keyId (36 ASCII) | iv (12) | tag (16) | AES-256-GCM ciphertext
// The AAD is the header (magic + key id) followed by the canonical encryption context,
// so changing the key id, the context or any byte fails authentication. Decrypt needs no
// KeyId because the blob names its key, as with real KMS symmetric ciphertexts.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { kmsFail } from './errors.ts';

const MAGIC = Buffer.from('APK1', 'ascii');
const KEY_ID_LEN = 36;
const IV_LEN = 12;
const TAG_LEN = 16;
const HEADER_LEN = MAGIC.length + KEY_ID_LEN;
export const MIN_BLOB_LEN = HEADER_LEN + IV_LEN + TAG_LEN;

/** Canonical bytes of an encryption context: entries sorted by key, as a JSON array. */
export function canonicalContext(ctx: Record<string, string>): Buffer {
  const entries = Object.keys(ctx)
    .sort()
    .map((k) => [k, ctx[k]]);
  return Buffer.from(JSON.stringify(entries), 'utf8');
}

export function sealBlob(keyId: string, keyMaterial: Uint8Array, plaintext: Uint8Array, ctx: Record<string, string>): Uint8Array {
  const header = Buffer.concat([MAGIC, Buffer.from(keyId, 'ascii')]);
  if (header.length !== HEADER_LEN) throw new Error('key id must be 36 characters');
  const iv = randomBytes(IV_LEN);
  const cipher = createCipheriv('aes-256-gcm', keyMaterial, iv);
  cipher.setAAD(Buffer.concat([header, canonicalContext(ctx)]));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return new Uint8Array(Buffer.concat([header, iv, cipher.getAuthTag(), ct]));
}

/** The key id a blob names, or InvalidCiphertextException when it is not one of ours. */
export function blobKeyId(blob: Uint8Array): string {
  const b = Buffer.from(blob);
  if (b.length < MIN_BLOB_LEN || !b.subarray(0, MAGIC.length).equals(MAGIC)) {
    kmsFail('InvalidCiphertextException', 'The ciphertext is invalid or was not produced by this KMS.');
  }
  const keyId = b.subarray(MAGIC.length, HEADER_LEN).toString('ascii');
  if (!/^[0-9a-f-]{36}$/.test(keyId)) kmsFail('InvalidCiphertextException', 'The ciphertext is invalid or was not produced by this KMS.');
  return keyId;
}

export function openBlob(blob: Uint8Array, keyMaterial: Uint8Array, ctx: Record<string, string>): Uint8Array {
  const b = Buffer.from(blob);
  blobKeyId(b);
  const header = b.subarray(0, HEADER_LEN);
  const iv = b.subarray(HEADER_LEN, HEADER_LEN + IV_LEN);
  const tag = b.subarray(HEADER_LEN + IV_LEN, MIN_BLOB_LEN);
  const decipher = createDecipheriv('aes-256-gcm', keyMaterial, iv);
  decipher.setAAD(Buffer.concat([header, canonicalContext(ctx)]));
  decipher.setAuthTag(tag);
  try {
    return new Uint8Array(Buffer.concat([decipher.update(b.subarray(MIN_BLOB_LEN)), decipher.final()]));
  } catch {
    // Real KMS does not say whether the context, the key or the bytes were wrong.
    return kmsFail('InvalidCiphertextException', '');
  }
}
