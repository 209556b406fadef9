// The emulator's Recipient check: `verifyAttestationDocument` from verifier/ against the
// configured root (the simulated root in tests, AWS Nitro root G1 by default), fresh
// ("now", at most 5 minutes old). PCRs are deliberately not checked here — the key
// policy decides about them through the kms:RecipientAttestation:* condition keys, as
// in AWS, so a debug-mode (all-zero) document reaches the policy, which must refuse it.
import { createHash } from 'node:crypto';
import { isVerificationError, verifyAttestationDocument } from '../../verifier/index.ts';
import { kmsFail } from './errors.ts';
import type { RecipientVerifier } from './recipient.ts';

export const RECIPIENT_MAX_AGE_MS = 5 * 60 * 1000;
/**
 * An enclave presents one document for all the Recipient calls of a pack; the emulator
 * remembers a verified document (by SHA-256 of its bytes) for at most this long, and never
 * past the document's 5-minute window, so a pack's 200 calls cost one COSE/chain check —
 * as they would cost the enclave nothing on real KMS. A certificate expiring inside the 60 s
 * is the only thing this can miss (leaf certificates live ~3 hours).
 */
const VERIFIED_REUSE_MS = 60_000;
const VERIFIED_CACHE_SIZE = 256;

interface Verified {
  result: ReturnType<RecipientVerifier>;
  until: number;
}

export function attestationRecipientVerifier(root: Uint8Array | undefined, now: () => number): RecipientVerifier {
  const verify = uncachedVerifier(root, now);
  const cache = new Map<string, Verified>();
  return (document) => {
    const key = createHash('sha256').update(document).digest('hex');
    const t = now();
    const hit = cache.get(key);
    if (hit !== undefined && t < hit.until) return hit.result;
    cache.delete(key);
    const result = verify(document);
    if (cache.size >= VERIFIED_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    cache.set(key, { result, until: Math.min(t + VERIFIED_REUSE_MS, result.timestamp + RECIPIENT_MAX_AGE_MS) });
    return result;
  };
}

function uncachedVerifier(root: Uint8Array | undefined, now: () => number): (document: Uint8Array) => ReturnType<RecipientVerifier> & { timestamp: number } {
  return (document) => {
    try {
      const result = verifyAttestationDocument(document, {
        ...(root === undefined ? {} : { root }),
        time: { kind: 'now', now, maxAgeMs: RECIPIENT_MAX_AGE_MS },
        pcrs: 'skip',
        // AWS KMS accepts a debug-mode document and leaves it to the key policy's PCR
        // conditions; the emulator does the same.
        allowDebug: true,
      });
      const { publicKey, pcrs, moduleId } = result.document;
      if (publicKey === null) kmsFail('ValidationException', 'The attestation document in the Recipient has no public_key.');
      return { publicKeySpki: publicKey, pcrs, moduleId, timestamp: result.document.timestamp };
    } catch (e) {
      if (isVerificationError(e)) {
        kmsFail('ValidationException', `The attestation document in the Recipient is not valid: ${e.code}: ${e.message}`);
      }
      throw e;
    }
  };
}
