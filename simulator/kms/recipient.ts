// The `Recipient` parameter of Decrypt / GenerateDataKey / GenerateRandom: an attestation
// document whose public_key receives the result as CMS (`CiphertextForRecipient`). The
// document's PCRs become the `kms:RecipientAttestation:*` condition keys the key policy
// checks; the verifier only checks signature, chain and freshness (PCRs are policy).
import { createPublicKey } from 'node:crypto';
import { kmsFail } from './errors.ts';
import { optBlob, optEnum, optObject, type Input } from './input.ts';

export interface AttestedRecipient {
  /** DER SubjectPublicKeyInfo of the RSA-2048 key the result is encrypted to. */
  publicKeySpki: Uint8Array;
  pcrs: Map<number, Uint8Array>;
  moduleId: string;
}

/**
 * Verifies an attestation document (signature, chain to the configured root, freshness)
 * and returns its content; throws KmsError when the document must be refused.
 */
export type RecipientVerifier = (document: Uint8Array) => AttestedRecipient;

/** AttestationDocument: "Maximum length of 262144" (KMS API reference, RecipientInfo). */
export const MAX_ATTESTATION_DOCUMENT_BYTES = 262144;

export function readRecipient(input: Input, verify: RecipientVerifier): AttestedRecipient | undefined {
  const recipient = optObject(input, 'Recipient');
  if (recipient === undefined) return undefined;
  optEnum(recipient, 'KeyEncryptionAlgorithm', ['RSAES_OAEP_SHA_256'] as const);
  const doc = optBlob(recipient, 'AttestationDocument', 1, MAX_ATTESTATION_DOCUMENT_BYTES);
  if (doc === undefined) kmsFail('ValidationException', 'Recipient.AttestationDocument is required when Recipient is given.');
  const attested = verify(doc);
  checkRsa2048(attested.publicKeySpki);
  return attested;
}

function checkRsa2048(spki: Uint8Array): void {
  let bits: number | undefined;
  let type: string | undefined;
  try {
    const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    type = key.asymmetricKeyType;
    bits = key.asymmetricKeyDetails?.modulusLength;
  } catch {
    kmsFail('ValidationException', 'The public key in the attestation document is not a DER SubjectPublicKeyInfo.');
  }
  if (type !== 'rsa' || bits !== 2048) {
    kmsFail('ValidationException', `The public key in the attestation document must be RSA-2048 for RSAES_OAEP_SHA_256 (got ${type ?? 'unknown'} ${bits ?? ''}).`);
  }
}

/** `kms:RecipientAttestation:ImageSha384` (= PCR0) and `…:PCR<n>`, lowercase hex. */
export function recipientConditionKeys(r: AttestedRecipient): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [index, value] of r.pcrs) out[`kms:RecipientAttestation:PCR${index}`] = Buffer.from(value).toString('hex');
  const pcr0 = r.pcrs.get(0);
  if (pcr0 !== undefined) out['kms:RecipientAttestation:ImageSha384'] = Buffer.from(pcr0).toString('hex');
  return out;
}
