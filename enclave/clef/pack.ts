// Writing an artifact exactly as `clef pack` does (packages/core/src/artifact/packer.ts):
// compact JSON plaintext {"<ns>":{"<KEY>":"<value>"}}, encrypted to the identity's age
// recipient (binary age file, base64) or under a KMS envelope; revision, packedAt,
// expiresAt set before signing; 2-space JSON in Clef's key order.
import { randomBytes } from 'node:crypto';
import { Encrypter } from 'age-encryption';
import { ciphertextHash, serializeArtifact, type PackedArtifact } from './artifact.ts';
import { sealWithDek, type DekWrapper } from './envelope.ts';
import { ClefError } from './errors.ts';
import { clefSignaturePayload, type ArtifactSigner } from './signature.ts';

export type SecretValues = Record<string, Record<string, string>>;

export interface PackArtifactInput {
  identity: string;
  environment: string;
  /** namespace → key → value, in the order they should appear. */
  values: SecretValues;
  /** Age recipient (`age1…`) or a KMS DEK wrapper, per the identity's config. */
  target: { recipient: string } | { dekWrapper: DekWrapper };
  signer?: ArtifactSigner;
  /** Seconds until expiresAt (Clef's --ttl); absent or 0 = no expiry. */
  ttlSeconds?: number;
  /** Clock in epoch ms (tests pin it). */
  now?: () => number;
}

export interface PackedOutput {
  artifact: PackedArtifact;
  /** The artifact file bytes as text (JSON.stringify(artifact, null, 2)). */
  json: string;
  /** `<namespace>__<key>` names, as Clef's PackResult lists them. */
  keys: string[];
}

export async function packArtifact(input: PackArtifactInput): Promise<PackedOutput> {
  const now = input.now ?? Date.now;
  const plaintext = Buffer.from(JSON.stringify(input.values), 'utf8');
  let ciphertext: string;
  let envelope: PackedArtifact['envelope'];
  try {
    if ('recipient' in input.target) {
      const e = new Encrypter();
      e.addRecipient(input.target.recipient);
      ciphertext = Buffer.from(await e.encrypt(plaintext)).toString('base64');
    } else {
      const dek = randomBytes(32);
      try {
        const sealed = sealWithDek(dek, plaintext);
        const wrapped = await input.target.dekWrapper.wrap(dek);
        ciphertext = sealed.ciphertext.toString('base64');
        envelope = {
          provider: input.target.dekWrapper.provider,
          keyId: wrapped.keyId,
          wrappedKey: Buffer.from(wrapped.wrappedKey).toString('base64'),
          algorithm: wrapped.algorithm ?? 'SYMMETRIC_DEFAULT',
          iv: sealed.iv.toString('base64'),
          authTag: sealed.authTag.toString('base64'),
        };
      } finally {
        dek.fill(0);
      }
    }
  } catch (e) {
    throw new ClefError('PACK_FAILED', `encrypting the artifact failed: ${(e as Error).message}`);
  } finally {
    plaintext.fill(0);
  }
  const t = now();
  const artifact: PackedArtifact = {
    version: 1,
    identity: input.identity,
    environment: input.environment,
    packedAt: new Date(t).toISOString(),
    revision: `${t}-${randomBytes(4).toString('hex')}`,
    ciphertextHash: ciphertextHash(ciphertext),
    ciphertext,
    ...(envelope === undefined ? {} : { envelope }),
  };
  if (input.ttlSeconds !== undefined && input.ttlSeconds > 0) {
    artifact.expiresAt = new Date(t + input.ttlSeconds * 1000).toISOString();
  }
  if (input.signer !== undefined) {
    try {
      const sig = await input.signer.sign(clefSignaturePayload(artifact));
      artifact.signature = Buffer.from(sig).toString('base64');
      artifact.signatureAlgorithm = input.signer.algorithm;
    } catch (e) {
      throw new ClefError('PACK_FAILED', `signing the artifact failed: ${(e as Error).message}`);
    }
  }
  const keys = Object.entries(input.values).flatMap(([ns, bucket]) => Object.keys(bucket).map((k) => `${ns}__${k}`));
  return { artifact, json: serializeArtifact(artifact), keys };
}
