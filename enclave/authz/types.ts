// The shapes authorizePack takes and returns (the contract of issue 12). PackAuthorization
// goes into the receipt (minus allowedKmsKeyArns), so every field is a verified fact or null.
import type { CanonicalPackRequest } from '../../verifier/pack-request.ts';
import type { TrustPolicy } from '../../verifier/trust-policy.ts';
import type { ReceiptAuthorization } from '../../verifier/statement.ts';
import type { JwksSource } from './jwks-cache.ts';

export type PackProof = { oidcToken: string } | { sshSignature: string };

/** What verifySshCommitSignature (enclave/authz/sshsig.ts) reports for a good signature. */
export interface SshSignatureResult {
  /** The allowed key (`<type> <base64>`, as given) that made the signature. */
  publicKey: string;
  /** "SHA256:…" as ssh-keygen prints it. */
  fingerprint: string;
}

/**
 * Verify a git sshsig (namespace "git") over the raw commit with one of `allowedPublicKeys`.
 * Throws (AuthzError SSHSIG_INVALID) when it does not verify with any of them.
 */
export type VerifySshCommitSignature = (
  rawCommit: Uint8Array,
  signature: string,
  allowedPublicKeys: readonly string[],
) => SshSignatureResult | Promise<SshSignatureResult>;

export interface AuthorizeInput {
  /** The image's trust policy; null/undefined = none (TRUST_POLICY_MISSING). */
  policy: TrustPolicy | null | undefined;
  /** SHA-384 hex of the canonical policy bytes. */
  policyDigest: string;
  proof: PackProof;
  /** commit = the enclave-computed commit. */
  request: CanonicalPackRequest;
  commit: { id: string; objectFormat: 'sha1' | 'sha256'; raw: Uint8Array; committerTime: number };
  /** File bytes at the verified commit, or null when the path does not exist. */
  readRepoFile(path: string): Uint8Array | null;
  jwks: JwksSource;
  /** Trusted enclave clock, milliseconds. */
  now(): number;
  /** sshsig verifier (enclave/authz/sshsig.ts); without it the sshsig path is refused. */
  verifySshsig?: VerifySshCommitSignature;
}

/** What goes into the receipt (verifier/statement.ts), plus the keys the environment may use. */
export type PackAuthorization = ReceiptAuthorization & {
  /** From the policy for this environment. */
  allowedKmsKeyArns: string[];
};
