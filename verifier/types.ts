// Types shared by the verifier's checks and its callers (CLI, KMS emulator, enclave, host).

/** A parsed, structurally valid attestation document (AWS NSM format). */
export interface AttestationDocument {
  moduleId: string;
  digest: 'SHA384';
  /** Milliseconds since the Unix epoch. */
  timestamp: number;
  /** PCR index → value (32, 48 or 64 bytes). */
  pcrs: Map<number, Uint8Array>;
  /** Leaf certificate, DER. */
  certificate: Uint8Array;
  /** CA bundle, root first, DER. */
  cabundle: Uint8Array[];
  publicKey: Uint8Array | null;
  userData: Uint8Array | null;
  nonce: Uint8Array | null;
}

/** When the certificate chain must be valid. */
export type VerificationTime =
  /** Now (injectable clock), optionally refusing documents older than maxAgeMs. */
  | { kind: 'now'; now?: () => number; maxAgeMs?: number }
  /** The document's own timestamp: historical audit of long-expired documents. */
  | { kind: 'document' }
  /** An explicit moment (ms since epoch). */
  | { kind: 'fixed'; at: number };

export interface PcrExpectations {
  /** Index → expected value. Must be non-empty unless `skip` is set. */
  expected: Map<number, Uint8Array>;
  /** Accept debug-mode documents (PCR0/1/2 all zero). Off by default (same as the top-level option). */
  allowDebug?: boolean;
}

export interface VerifyAttestationOptions {
  time?: VerificationTime;
  /**
   * Trust anchor (DER). Defaults to the embedded AWS Nitro root G1. Passing another root
   * is explicit, and the result says so (`trust.kind`).
   */
  root?: Uint8Array;
  /** PCR expectations, or 'skip' to check signature and chain only (reported as unchecked). */
  pcrs: PcrExpectations | 'skip';
  expectedNonce?: Uint8Array;
  expectedUserData?: Uint8Array;
  expectedPublicKey?: Uint8Array;
  /**
   * Accept a debug-mode document (PCR0/1/2 all zero). Off by default, and independent of
   * `pcrs`: skipping the PCR comparison never lets a debug-mode enclave through.
   */
  allowDebug?: boolean;
}

export type CheckStatus = 'pass' | 'fail' | 'skipped';

export interface CheckResult {
  /** Stable check name, e.g. "cose-structure", "cose-signature", "chain", "pcrs". */
  name: string;
  status: CheckStatus;
  detail?: string;
}

export interface TrustInfo {
  /** 'aws' = embedded AWS Nitro root G1; 'simulated' = a custom root labelled as the simulator's; 'custom' = another root. */
  kind: 'aws' | 'simulated' | 'custom';
  rootSha256: string;
  rootSubject: string;
}

export interface AttestationVerification {
  document: AttestationDocument;
  trust: TrustInfo;
  /** The instant the chain was checked at (ms since epoch). */
  checkedAt: number;
  checks: CheckResult[];
  /** True when PCRs were not compared with any expectation. */
  pcrsUnchecked: boolean;
  debug: boolean;
}
