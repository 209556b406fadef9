// Before any Decrypt: every SOPS file the pack will read must be encrypted only with KMS
// keys the trust policy allows for the environment being packed. The SOPS MAC does not
// cover file names, so production ciphertext copied to a dev path is otherwise a valid
// dev file — this check is what stops a dev-scoped request from unwrapping production keys.
import { identityCells, type ClefManifest } from '../clef/manifest.ts';
import { formatForFileName, parseSops } from '../sops/document.ts';
import type { GitSnapshot } from '../git/index.ts';
import { refuse } from './options.ts';

export interface ScopedFile {
  path: string;
  kmsArns: string[];
}

/** The KMS master keys of each of the identity's files that exist at the commit. */
export function sopsFilesOf(tree: GitSnapshot, manifest: ClefManifest, identity: string, environment: string): ScopedFile[] {
  const out: ScopedFile[] = [];
  for (const cell of identityCells(manifest, identity, environment)) {
    const f = tree.readFile(cell.path);
    if (f === null) continue;
    const parsed = parseSops(f.content, { format: formatForFileName(cell.path), fileName: cell.path });
    const kmsArns = parsed.metadata.keyGroups.flat().flatMap((k) => (k.type === 'kms' ? [k.arn] : []));
    out.push({ path: cell.path, kmsArns });
  }
  return out;
}

/** Refuse (KEY_NOT_ALLOWED_FOR_ENVIRONMENT) unless every file's every KMS key is allowed. */
export function checkKeysAllowed(files: readonly ScopedFile[], allowed: readonly string[], environment: string): void {
  const ok = new Set(allowed);
  for (const f of files) {
    if (f.kmsArns.length === 0) {
      refuse('KEY_NOT_ALLOWED_FOR_ENVIRONMENT', `${f.path} has no AWS KMS master key; the enclave unwraps only with the keys the trust policy allows for '${environment}'`);
    }
    for (const arn of f.kmsArns) {
      if (!ok.has(arn)) refuse('KEY_NOT_ALLOWED_FOR_ENVIRONMENT', `${f.path} is encrypted with ${arn}, which the trust policy does not allow for '${environment}'`);
    }
  }
}
