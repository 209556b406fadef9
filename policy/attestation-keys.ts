// The Nitro Enclaves attestation condition keys of AWS KMS and the facts about them that
// generation and linting share (AWS KMS developer guide, "Condition keys for Nitro
// Enclaves"; Nitro Enclaves user guide, "Where to get an enclave's measurements").
import { pcrExtend } from '../verifier/pcr.ts';

export const ATTESTATION_KEY_PREFIX = 'kms:RecipientAttestation:';
/** Equals PCR0 of the attestation document. */
export const IMAGE_SHA384_KEY = 'kms:RecipientAttestation:ImageSha384';

/** `kms:RecipientAttestation:PCR<n>`; AWS's examples use PCR0, 1, 2, 3, 4 and 8. */
export function pcrConditionKey(index: number): string {
  return `${ATTESTATION_KEY_PREFIX}PCR${index}`;
}

/**
 * The only operations that accept a `Recipient` (and so the only ones for which the
 * attestation keys can ever be present in the request context).
 */
export const RECIPIENT_ACTIONS: readonly string[] = [
  'kms:Decrypt',
  'kms:DeriveSharedSecret',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyPair',
  'kms:GenerateRandom',
];

/** A SHA-384 PCR as the condition value KMS documents: 96 hexadecimal characters. */
export const PCR_HEX = /^[0-9a-fA-F]{96}$/;
/** What a debug-mode enclave reports for PCR0/1/2 (and 8). */
export const DEBUG_PCR = '0'.repeat(96);

/**
 * PCR3 of an enclave whose parent instance profile carries `roleArn`:
 * SHA-384(48 zero bytes ‖ UTF-8 role ARN) — one extend of the raw ARN, no inner hash.
 * This is the AWS Nitro Enclaves user guide's own recipe ("PCR3 … the hash is padded
 * with 48 null characters"), and its example output for
 * arn:aws:iam::123456789012:role/Webserver (78fce75d…2e6921e6) is a unit test.
 */
export function pcr3ForRoleArn(roleArn: string): string {
  return Buffer.from(pcrExtend(new Uint8Array(48), Buffer.from(roleArn, 'utf8'))).toString('hex');
}

export type AttestationKeyClass =
  | { kind: 'image'; index: 0 }
  | { kind: 'pcr'; index: number }
  | { kind: 'nitrotpm'; index: number }
  | { kind: 'unknown' };

/**
 * Classify a condition key (IAM condition key names are case-insensitive). Returns
 * undefined for keys that are not attestation keys at all.
 */
export function classifyAttestationKey(key: string): AttestationKeyClass | undefined {
  const k = key.toLowerCase();
  if (!k.startsWith(ATTESTATION_KEY_PREFIX.toLowerCase())) return undefined;
  const rest = k.slice(ATTESTATION_KEY_PREFIX.length);
  if (rest === 'imagesha384') return { kind: 'image', index: 0 };
  let m = /^pcr(\d{1,2})$/.exec(rest);
  if (m !== null) return { kind: 'pcr', index: Number(m[1]) };
  m = /^nitrotpmpcr(\d{1,2})$/.exec(rest);
  if (m !== null) return { kind: 'nitrotpm', index: Number(m[1]) };
  return { kind: 'unknown' };
}

/** Highest PCR index in an attestation document (nsm-api attestation spec: index = 0..31). */
export const MAX_PCR_INDEX = 31;

/**
 * The PCR index a key measures (ImageSha384 is PCR0), or undefined for keys that cannot
 * be in an enclave's request (NitroTPM, unknown names, indexes past 31).
 */
export function measuredPcr(key: string): number | undefined {
  const c = classifyAttestationKey(key);
  if (c === undefined || (c.kind !== 'image' && c.kind !== 'pcr') || c.index > MAX_PCR_INDEX) return undefined;
  return c.index;
}
