// Why a set of git objects was refused. Codes are a subset of the wire protocol's
// (enclave/protocol.ts), so the server passes them through unchanged.
export type GitErrorCode =
  | 'GIT_OBJECT_MISSING'
  | 'GIT_COMMIT_MISMATCH'
  | 'GIT_WRONG_TYPE'
  | 'GIT_MALFORMED'
  | 'GIT_PATH_INVALID'
  | 'GIT_TOO_LARGE'
  /** A sha1 object carries a SHA-1 collision attack block (SHA-1DC detection). */
  | 'SHA1_COLLISION';

export class GitVerificationError extends Error {
  readonly code: GitErrorCode;

  constructor(code: GitErrorCode, message: string) {
    super(message);
    this.name = 'GitVerificationError';
    this.code = code;
  }
}

export function gitFail(code: GitErrorCode, message: string): never {
  throw new GitVerificationError(code, message);
}
