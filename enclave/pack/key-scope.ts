// Before any Decrypt: every SOPS file the pack will read must be encrypted only with KMS
// keys the trust policy allows for the environment being packed. The SOPS MAC does not
// cover file names, so production ciphertext copied to a dev path is otherwise a valid
// dev file — this check is what stops a dev-scoped request from unwrapping production keys.
// It runs on the files resolve.ts has parsed, before their first data key is unwrapped.
import type { SopsMetadata } from '../sops/metadata.ts';
import { refuse } from './options.ts';
import { checkKeysAllowed, isAuthzError, type SopsFileKeys } from '../authz/index.ts';

/** The KMS master keys (and other key types) of each parsed SOPS file. */
export function keysOf(files: ReadonlyArray<{ path: string; metadata: SopsMetadata }>): SopsFileKeys[] {
  return files.map(({ path, metadata }) => {
    const keys = metadata.keyGroups.flat();
    return {
      path,
      kmsArns: keys.flatMap((k) => (k.type === 'kms' ? [k.arn] : [])),
      otherRecipientTypes: keys.flatMap((k) => (k.type === 'kms' ? [] : [k.type])),
    };
  });
}

/** Refuse (KEY_NOT_ALLOWED_FOR_ENVIRONMENT) unless every file's every KMS key is allowed. */
export function checkFilesInScope(files: readonly SopsFileKeys[], allowed: readonly string[]): void {
  try {
    checkKeysAllowed(files, allowed);
  } catch (e) {
    if (isAuthzError(e)) refuse(e.code, e.message);
    throw e;
  }
}
