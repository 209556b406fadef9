// The `clef-sig-v3` signature (packages/core/src/artifact/signer.ts): 14 fields joined by
// "\n", signed with Ed25519 over the payload, or with ECDSA P-256 through KMS Sign
// (ECDSA_SHA_256, MessageType DIGEST, over SHA-256 of the payload). Verification picks
// the algorithm from the key's type, never from the artifact's own claim.
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { PackedArtifact, SignatureAlgorithm } from './artifact.ts';

export function clefSignaturePayload(a: PackedArtifact): Uint8Array {
  const fields = [
    'clef-sig-v3',
    String(a.version),
    a.identity,
    a.environment,
    a.revision,
    a.packedAt,
    a.ciphertextHash,
    a.expiresAt ?? '',
    a.envelope?.provider ?? '',
    a.envelope?.keyId ?? '',
    a.envelope?.wrappedKey ?? '',
    a.envelope?.algorithm ?? '',
    a.envelope?.iv ?? '',
    a.envelope?.authTag ?? '',
  ];
  return Buffer.from(fields.join('\n'), 'utf8');
}

export interface ArtifactSigner {
  algorithm: SignatureAlgorithm;
  /** Returns the raw signature (Ed25519: 64 bytes; ECDSA: DER). */
  sign(payload: Uint8Array): Promise<Uint8Array>;
}

/** Ed25519 from a base64 DER PKCS#8 key (Clef's `--signing-key`) or a KeyObject. */
export function ed25519Signer(key: string | KeyObject): ArtifactSigner {
  const k = typeof key === 'string' ? createPrivateKey({ key: Buffer.from(key, 'base64'), format: 'der', type: 'pkcs8' }) : key;
  if (k.asymmetricKeyType !== 'ed25519') throw new Error('signing key is not an Ed25519 private key');
  return { algorithm: 'Ed25519', sign: async (payload) => sign(null, payload, k) };
}

/** KMS Sign as Clef calls it: digest = SHA-256(payload), ECDSA_SHA_256, MessageType DIGEST. */
export type KmsSignFn = (req: { keyId: string; digest: Uint8Array; signingAlgorithm: 'ECDSA_SHA_256'; messageType: 'DIGEST' }) => Promise<Uint8Array>;

export function kmsEcdsaSigner(keyId: string, kmsSign: KmsSignFn): ArtifactSigner {
  return {
    algorithm: 'ECDSA_SHA256',
    sign: async (payload) => kmsSign({ keyId, digest: createHash('sha256').update(payload).digest(), signingAlgorithm: 'ECDSA_SHA_256', messageType: 'DIGEST' }),
  };
}

/** A local ECDSA P-256 key standing in for KMS (tests, demo). */
export function localEcdsaSigner(key: KeyObject): ArtifactSigner {
  return { algorithm: 'ECDSA_SHA256', sign: async (payload) => sign('sha256', payload, key) };
}

/** A verify key: base64 DER SPKI (Clef's CLEF_AGENT_VERIFY_KEY), PEM, or a KeyObject. */
export function parseVerifyKey(key: string | KeyObject): KeyObject {
  if (typeof key !== 'string') return key;
  const t = key.trim();
  if (t.startsWith('-----BEGIN')) return createPublicKey(t);
  return createPublicKey({ key: Buffer.from(t, 'base64'), format: 'der', type: 'spki' });
}

/** True when `signature` (base64) verifies; the key type picks Ed25519 or ECDSA-SHA256. */
export function verifyArtifactSignature(payload: Uint8Array, signatureBase64: string, key: KeyObject): boolean {
  const sig = Buffer.from(signatureBase64, 'base64');
  if (sig.toString('base64') !== signatureBase64) return false;
  if (key.asymmetricKeyType === 'ed25519') return verify(null, payload, key, sig);
  if (key.asymmetricKeyType === 'ec') return verify('sha256', payload, key, sig);
  throw new Error(`Unsupported key type for signature verification: ${String(key.asymmetricKeyType)}`);
}
