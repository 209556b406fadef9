// Coded errors of the image build. The CLI prints `code: message`; tests assert on `code`.

export const BUILD_ERROR_CODES = {
  CPIO_INVALID: 'an archive entry is invalid or the archive is malformed',
  EIF_MALFORMED: 'the file is not a well-formed Enclave Image File',
  EIF_CRC_MISMATCH: 'the EIF CRC-32 does not match its contents',
  EIF_TOO_MANY_SECTIONS: 'more sections than the EIF header can list',
  SIGNING_FAILED: 'the EIF signing certificate or key is unusable',
  BUNDLE_FAILED: 'esbuild could not bundle the enclave service',
  BLOBS_INVALID: 'the kernel/init blob set is missing files or is inconsistent',
  INPUT_DIGEST_MISMATCH: 'a pinned input does not have its locked digest',
  INPUT_UNAVAILABLE: 'a pinned input could not be fetched or extracted',
  LOCK_MALFORMED: 'reproducible/inputs.lock.json is malformed',
  TRUST_POLICY_INVALID: 'the --trust-policy file is not a valid trust policy (YAML/JSON, strict)',
  TRUST_POLICY_REQUIRED: 'rebuild: the manifest names a trust policy digest and no --trust-policy file was given',
  TRUST_POLICY_MISMATCH: 'rebuild: the --trust-policy file is not the one the manifest was built with',
  EIF_SIGNING_CERT_EXPIRED: 'the EIF signing certificate has expired (nitro-cli refuses it)',
  EIF_SIGNING_CERT_NOT_YET_VALID: 'the EIF signing certificate is not valid yet (nitro-cli refuses it)',
} as const;

export type BuildErrorCode = keyof typeof BUILD_ERROR_CODES;

export class BuildError extends Error {
  readonly code: BuildErrorCode;

  constructor(code: BuildErrorCode, message: string) {
    super(message);
    this.name = 'BuildError';
    this.code = code;
  }
}

export function buildFail(code: BuildErrorCode, message: string): never {
  throw new BuildError(code, message);
}

export function isBuildError(e: unknown): e is BuildError {
  return e instanceof BuildError;
}

/** Codes that mean "checked and refused" (exit 1) rather than bad input (exit 2). */
export const BUILD_REFUSAL_CODES: ReadonlySet<BuildErrorCode> = new Set([
  'INPUT_DIGEST_MISMATCH',
  'EIF_CRC_MISMATCH',
  'TRUST_POLICY_MISMATCH',
  'EIF_SIGNING_CERT_EXPIRED',
  'EIF_SIGNING_CERT_NOT_YET_VALID',
]);
