// Why the enclave refused to authorize a pack. A closed set of stable codes (docs/errors.md,
// "Pack authorization"); the server passes them to the host unchanged. Messages may name
// claims and policy entries, never secrets or whole tokens.

export const AUTHZ_ERROR_CODES = {
  TRUST_POLICY_MISSING: 'the image carries no pack trust policy, so nothing can be authorized',
  PACK_UNAUTHORIZED: 'no rule of the trust policy or the repository rules allows this pack',
  OIDC_INVALID: 'the OIDC token is malformed, badly signed, or its claims are not acceptable',
  OIDC_EXPIRED: 'the OIDC token is outside its validity period (expired, not yet valid, or issued in the future)',
  OIDC_REQUEST_MISMATCH: 'the token audience names another pack request (identity, environment, commit, nonce or options differ)',
  OIDC_ISSUER_UNTRUSTED: 'the token issuer is not one the trust policy names',
  JWKS_UNAVAILABLE: 'the issuer keys could not be fetched and no fresh copy is cached',
  COMMIT_NOT_TRUSTED: 'the proof does not vouch for the commit the enclave computed',
  COMMIT_TOO_OLD: 'the commit is older than the environment allows',
  COMMIT_TIME_IN_FUTURE: "the commit's committer time is later than the enclave's clock (plus the allowed skew)",
  REF_NOT_ALLOWED: 'the token ref is not one the environment may be packed from',
  EVENT_NOT_ALLOWED: 'the workflow/pipeline event is not allowed for the environment',
  RUN_ATTEMPT_EXCEEDED: 'the workflow run attempt is above the allowed maximum',
  RUNNER_NOT_ALLOWED: 'the job did not run on the runner kind the environment requires',
  WORKFLOW_NOT_ALLOWED: 'the workflow or deployment environment is not allowed by the repository rules',
  SSHSIG_INVALID: 'the SSH commit signature is malformed, does not verify, or its signer is not allowed',
  CLOCK_UNTRUSTED: 'the enclave clock cannot be trusted',
  KEY_NOT_ALLOWED_FOR_ENVIRONMENT: 'a SOPS file is encrypted with a KMS key the environment may not use',
  SHA1_COLLISION: 'a git object shows signs of a SHA-1 collision attack',
} as const;

export type AuthzErrorCode = keyof typeof AUTHZ_ERROR_CODES;

export class AuthzError extends Error {
  readonly code: AuthzErrorCode;

  constructor(code: AuthzErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuthzError';
    this.code = code;
  }
}

export function isAuthzError(e: unknown): e is AuthzError {
  return e instanceof AuthzError;
}

export function authzFail(code: AuthzErrorCode, message: string): never {
  throw new AuthzError(code, message);
}
