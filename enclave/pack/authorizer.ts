// The seam between the pack and its authorization (enclave/authz): before clef.yaml is read
// as authority, the authorizer verifies the caller's proof against the trust policy
// measured into the image and says which SOPS keys the environment may use.
import type { PackContext, PackInput } from '../server.ts';
import type { ReceiptAuthorization, ReceiptPackOptions } from '../../verifier/statement.ts';

export interface PackAuthorizationResult {
  /** Recorded verbatim in the receipt. */
  receipt: ReceiptAuthorization;
  /** The KMS key ARNs the environment's SOPS files may be encrypted with. */
  allowedKmsKeyArns: readonly string[];
}

/**
 * Throws EnclaveProtocolError('PACK_REFUSED', …, <authz code>) to refuse. `freshDocument` is
 * an attestation document this enclave's NSM just made (the pack's Recipient document): its
 * timestamp cross-checks the enclave's clock without another NSM round trip.
 */
export type PackAuthorizer = (input: PackInput, ctx: PackContext, options: ReceiptPackOptions, freshDocument: Uint8Array) => Promise<PackAuthorizationResult>;
