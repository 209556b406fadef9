// The policy folder's own coded error: bad generator input or an unreadable policy file.
// Lint *findings* are not errors (see lint-codes.ts); these are refusals to run at all.

export const POLICY_ERROR_CODES = {
  INVALID_ARN: 'a principal is not an IAM role/user/account ARN of the expected shape',
  INVALID_INPUT: 'generator input is inconsistent (missing principal, PCR8 not in the manifest, …)',
  DEBUG_PCRS: 'the manifest pins all-zero (debug-mode) image PCRs',
  POLICY_MALFORMED: 'the file is not a key policy (or a CloudFormation/Terraform output of generate)',
  POLICY_TOO_LARGE: 'the policy file exceeds the size limit',
  POLICY_UNSUPPORTED: 'the policy uses an element, principal type, operator or policy variable the model does not know (refused, never skipped)',
  CANNOT_LINT: 'lint cannot judge the input: an unresolvable Terraform/CloudFormation expression, an unknown condition key or action, an unknown key kind, or too many request classes',
} as const;

export type PolicyErrorCode = keyof typeof POLICY_ERROR_CODES;

export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  readonly code: PolicyErrorCode;
  constructor(code: PolicyErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export function policyFail(code: PolicyErrorCode, message: string): never {
  throw new PolicyError(code, message);
}

export function isPolicyError(e: unknown): e is PolicyError {
  return e instanceof PolicyError;
}
