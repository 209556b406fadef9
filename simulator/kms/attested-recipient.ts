// The emulator's Recipient check: `verifyAttestationDocument` from verifier/ against the
// configured root (the simulated root in tests, AWS Nitro root G1 by default), fresh
// ("now", at most 5 minutes old). PCRs are deliberately not checked here — the key
// policy decides about them through the kms:RecipientAttestation:* condition keys, as
// in AWS, so a debug-mode (all-zero) document reaches the policy, which must refuse it.
import { isVerificationError, verifyAttestationDocument } from '../../verifier/index.ts';
import { kmsFail } from './errors.ts';
import type { RecipientVerifier } from './recipient.ts';

export const RECIPIENT_MAX_AGE_MS = 5 * 60 * 1000;

export function attestationRecipientVerifier(root: Uint8Array | undefined, now: () => number): RecipientVerifier {
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
      return { publicKeySpki: publicKey, pcrs, moduleId };
    } catch (e) {
      if (isVerificationError(e)) {
        kmsFail('ValidationException', `The attestation document in the Recipient is not valid: ${e.code}: ${e.message}`);
      }
      throw e;
    }
  };
}
