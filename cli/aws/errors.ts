// Coded failures of the parent-instance helpers (run-enclave, doctor). Each code names what
// is wrong on the instance; the message says how to fix it, because the reader is an
// operator at a shell on the parent instance, not a developer.
export const AWS_DEPLOY_ERROR_CODES = {
  NITRO_CLI_MISSING: 'nitro-cli is not installed or not on PATH',
  NITRO_CLI_FAILED: 'nitro-cli exited with an error',
  NITRO_CLI_OUTPUT: 'nitro-cli printed output that is not the JSON it documents',
  ALLOCATOR_CONFIG: 'the Nitro Enclaves allocator configuration is missing, malformed or too small',
  EIF_MISMATCH: 'the EIF file does not measure to the build manifest',
  ENCLAVE_MISMATCH: 'the running enclave does not measure to the build manifest',
  ENCLAVE_DEBUG: 'the enclave runs in debug mode (its attestation reports zero PCRs)',
  ENCLAVE_NOT_RUNNING: 'the enclave is not in the RUNNING state',
  ENCLAVE_CONFLICT: 'another enclave already runs on this parent instance',
  TRUST_POLICY_DEVELOPMENT: 'the image carries a DEVELOPMENT trust policy (demo/tests only)',
  TRUST_POLICY_ABSENT: 'the image carries no trust policy (the enclave would refuse every pack)',
  EIF_SIGNING_CERT_EXPIRED: 'the EIF signing certificate has expired (nitro-cli refuses it)',
  EIF_SIGNING_CERT_NOT_YET_VALID: 'the EIF signing certificate is not valid yet (nitro-cli refuses it)',
} as const;

export type AwsDeployErrorCode = keyof typeof AWS_DEPLOY_ERROR_CODES;

export class AwsDeployError extends Error {
  override readonly name = 'AwsDeployError';
  readonly code: AwsDeployErrorCode;
  /** What the operator should do about it. */
  readonly fix: string;
  constructor(code: AwsDeployErrorCode, message: string, fix: string) {
    super(message);
    this.code = code;
    this.fix = fix;
  }
}

export function isAwsDeployError(e: unknown): e is AwsDeployError {
  return e instanceof AwsDeployError;
}
