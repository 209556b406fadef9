// One coded error for everything SOPS-related. Callers (the pack service, the CLI, tests)
// match on `code`; the message names the file and, where there is one, the key path.

export const SOPS_ERROR_CODES = {
  SOPS_INPUT_TOO_LARGE: 'file, nesting depth or value count exceeds a limit',
  SOPS_MALFORMED: 'file is not valid YAML/JSON or not a map at the top level',
  SOPS_METADATA_INVALID: 'the sops metadata block is missing or malformed',
  SOPS_UNSUPPORTED: 'the file uses a SOPS feature this implementation refuses',
  SOPS_VALUE_MALFORMED: 'an ENC[...] value is malformed or not where the rules expect it',
  SOPS_DECRYPT_FAILED: 'a value does not authenticate (wrong key, IV, tag, data or AAD path)',
  SOPS_MAC_MISMATCH: 'the MAC does not match the file contents or lastmodified',
  SOPS_NO_DATA_KEY: 'no master key in the file could be unwrapped with the keys supplied',
  SOPS_AGE_SSH_RECIPIENT_UNSUPPORTED: 'a key group holds only age ssh-ed25519/ssh-rsa recipients, which are not supported',
  SOPS_ENCRYPT_FAILED: 'the input cannot be encrypted (bad value, key or recipient)',
} as const;

export type SopsErrorCode = keyof typeof SOPS_ERROR_CODES;

export class SopsError extends Error {
  readonly code: SopsErrorCode;
  /** File name as the caller gave it (never file contents). */
  readonly fileName: string | undefined;
  /** Key path as sops writes it in the AAD, e.g. `db:password:`. */
  readonly keyPath: string | undefined;

  constructor(code: SopsErrorCode, message: string, where: { fileName?: string; keyPath?: string } = {}) {
    const loc = [where.fileName, where.keyPath === undefined ? undefined : `key '${where.keyPath}'`]
      .filter((x) => x !== undefined)
      .join(', ');
    super(loc === '' ? message : `${loc}: ${message}`);
    this.name = 'SopsError';
    this.code = code;
    this.fileName = where.fileName;
    this.keyPath = where.keyPath;
  }
}

export function isSopsError(e: unknown): e is SopsError {
  return e instanceof SopsError;
}
