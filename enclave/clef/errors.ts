// One coded error for Clef manifests and artifacts. The CLI and the pack service match on
// `code`; messages name the field (and line, for clef.yaml) in the user's words.

export const CLEF_ERROR_CODES = {
  MANIFEST_INVALID: 'clef.yaml is not valid YAML or violates the manifest schema',
  IDENTITY_NOT_FOUND: 'the service identity is not declared in clef.yaml',
  ENVIRONMENT_NOT_FOUND: 'the environment is not configured for the service identity',
  PACK_FAILED: 'packing the artifact failed (decrypt, merge, wrap or sign)',
  ARTIFACT_MALFORMED: 'the artifact is not a well-formed Clef artifact v1',
  ARTIFACT_REVOKED: 'the artifact has been revoked',
  ARTIFACT_EXPIRED: 'the artifact is past its expiresAt',
  ARTIFACT_IDENTITY_MISMATCH: 'the artifact is for another identity or environment than expected',
  ARTIFACT_HASH_MISMATCH: 'ciphertextHash does not match the ciphertext',
  ARTIFACT_SIGNATURE_MISSING: 'the artifact is unsigned but a verify key is required',
  ARTIFACT_SIGNATURE_INVALID: 'the artifact signature does not verify with the verify key',
  ARTIFACT_ROLLBACK: 'the artifact revision is older than one already seen',
  ARTIFACT_KEY_UNAVAILABLE: 'no key to open the artifact (age identity or KMS) was supplied or it failed',
  ARTIFACT_DECRYPT_FAILED: 'the ciphertext does not decrypt or its plaintext is not the expected JSON',
} as const;

export type ClefErrorCode = keyof typeof CLEF_ERROR_CODES;

export class ClefError extends Error {
  readonly code: ClefErrorCode;
  /** 1-based line in clef.yaml, when known. */
  readonly line: number | undefined;
  /** Field path such as `service_identities[0].environments.prod`. */
  readonly field: string | undefined;

  constructor(code: ClefErrorCode, message: string, where: { line?: number; field?: string } = {}) {
    super(where.line === undefined ? message : `line ${where.line}: ${message}`);
    this.name = 'ClefError';
    this.code = code;
    this.line = where.line;
    this.field = where.field;
  }
}

export function isClefError(e: unknown): e is ClefError {
  return e instanceof ClefError;
}
