// Before any Decrypt: every SOPS file the pack will read must be encrypted only with KMS
// keys the trust policy allows for the environment being packed. The SOPS MAC does not
// cover file names, so production ciphertext copied to a dev path is otherwise a valid
// dev file — this check is what stops a dev-scoped request from unwrapping production keys.
import { identityCells, type ClefManifest } from '../clef/manifest.ts';
import { formatForFileName, parseSops } from '../sops/document.ts';
import type { GitSnapshot } from '../git/index.ts';
import { refuse } from './options.ts';
import { checkKeysAllowed, isAuthzError, type SopsFileKeys } from '../authz/index.ts';

/** The KMS master keys (and other key types) of each of the identity's files at the commit. */
export function sopsFilesOf(tree: GitSnapshot, manifest: ClefManifest, identity: string, environment: string): SopsFileKeys[] {
  const out: SopsFileKeys[] = [];
  for (const cell of identityCells(manifest, identity, environment)) {
    const f = tree.readFile(cell.path);
    if (f === null) continue;
    const keys = parseSops(f.content, { format: formatForFileName(cell.path), fileName: cell.path }).metadata.keyGroups.flat();
    out.push({
      path: cell.path,
      kmsArns: keys.flatMap((k) => (k.type === 'kms' ? [k.arn] : [])),
      otherRecipientTypes: keys.flatMap((k) => (k.type === 'kms' ? [] : [k.type])),
    });
  }
  return out;
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
