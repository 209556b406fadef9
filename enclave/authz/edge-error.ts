// The refusals of the authorization edges (sshsig, trusted clock, JWKS fetch). The codes
// are members of the closed AuthzError set of the issue-12 contract; this class is a
// stand-in until enclave/authz/errors.ts (AuthzError) is merged, then the lead folds it.
export type AuthzEdgeErrorCode = 'SSHSIG_INVALID' | 'CLOCK_UNTRUSTED' | 'JWKS_UNAVAILABLE';

export class AuthzEdgeError extends Error {
  readonly code: AuthzEdgeErrorCode;

  constructor(code: AuthzEdgeErrorCode, message: string) {
    super(message);
    this.name = 'AuthzEdgeError';
    this.code = code;
  }
}

export function edgeFail(code: AuthzEdgeErrorCode, message: string): never {
  throw new AuthzEdgeError(code, message);
}
