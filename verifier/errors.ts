// One error type with a closed set of stable codes. CLIs, tests and JSON output assert
// on `code`; the message is for people and may change. docs/errors.md lists every code.

export const VERIFY_ERROR_CODES = {
  INPUT_TOO_LARGE: 'input exceeds a size limit',
  MALFORMED_CBOR: 'bytes are not well-formed CBOR',
  MALFORMED_COSE: 'not a COSE_Sign1 structure',
  UNSUPPORTED_ALGORITHM: 'COSE algorithm is not the one required (ES384)',
  MALFORMED_DOCUMENT: 'attestation document payload violates the NSM format',
  NOT_ENCLAVE_DOCUMENT: 'document is not a Nitro Enclave attestation (e.g. NitroTPM)',
  COSE_SIGNATURE_INVALID: 'COSE_Sign1 signature does not verify with the leaf key',
  CERT_MALFORMED: 'a certificate cannot be parsed',
  CHAIN_UNTRUSTED_ROOT: 'cabundle[0] is not the trusted root',
  CHAIN_INVALID: 'a certificate is not issued/signed by the next one up the chain',
  CERT_EXPIRED: 'a certificate is expired at the verification time',
  CERT_NOT_YET_VALID: 'a certificate is not yet valid at the verification time',
  CERT_CONSTRAINTS: 'CA constraints violated (basicConstraints, keyUsage, path length)',
  LEAF_KEY_INVALID: 'leaf certificate key is not P-384',
  DOCUMENT_TOO_OLD: 'document timestamp is older than the allowed maximum age',
  DOCUMENT_FROM_FUTURE: 'document timestamp is later than the verification time allows',
  ROOT_FINGERPRINT_MISMATCH: 'embedded root certificate does not have its pinned fingerprint',
  PCR_POLICY_EMPTY: 'no PCR expectations were given; refusing to report a pass',
  PCR_MISSING: 'an expected PCR is absent from the document',
  PCR_MISMATCH: 'a PCR differs from its expected value',
  DEBUG_MODE: 'document comes from a debug-mode enclave (PCR0/1/2 all zero)',
  USER_DATA_MISMATCH: 'user_data does not bind what it must',
  PUBLIC_KEY_MISMATCH: 'public_key does not match the signing key',
  NONCE_MISMATCH: 'nonce differs from the expected one',
  DSSE_MALFORMED: 'DSSE envelope is malformed',
  DSSE_SIGNATURE_INVALID: 'DSSE signature does not verify',
  STATEMENT_MALFORMED: 'in-toto statement or predicate is malformed',
  RECEIPT_MALFORMED: 'receipt file is malformed',
  ARTIFACT_DIGEST_MISMATCH: 'artifact bytes do not match the digest in the receipt',
  MANIFEST_MALFORMED: 'build manifest is malformed',
  TRUST_POLICY_INVALID: 'pack trust policy is malformed or unsafe',
  TRUST_POLICY_MISMATCH: "receipt's trust policy digest is not the build manifest's",
  DEVELOPMENT_POLICY: 'receipt was made under a development trust policy, but chains to the AWS root',
  EXPECTATION_MISMATCH: 'receipt is valid but does not say what the caller expected (repository, ref, commit, scope, options)',
} as const;

export type VerifyErrorCode = keyof typeof VERIFY_ERROR_CODES;

export class VerificationError extends Error {
  readonly code: VerifyErrorCode;
  readonly detail: Record<string, unknown> | undefined;

  constructor(code: VerifyErrorCode, message: string, detail?: Record<string, unknown>) {
    super(message);
    this.name = 'VerificationError';
    this.code = code;
    this.detail = detail;
  }

  toJSON(): { code: VerifyErrorCode; message: string; detail?: Record<string, unknown> } {
    return this.detail === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, detail: this.detail };
  }
}

export function isVerificationError(e: unknown): e is VerificationError {
  return e instanceof VerificationError;
}

export function fail(code: VerifyErrorCode, message: string, detail?: Record<string, unknown>): never {
  throw new VerificationError(code, message, detail);
}
