// The environment key allowlist: every SOPS file packed for an environment must be
// encrypted only with KMS keys the trust policy lists for that environment. Without it a
// reviewed (or feature-branch) commit could place production ciphertext at a dev path and
// have the enclave unwrap it for a dev identity — the SOPS MAC does not cover file names.
// The caller runs this over ALL files before the first KMS Decrypt.
import { authzFail } from './errors.ts';

export interface SopsFileKeys {
  /** Repository path (named in the refusal). */
  path: string;
  /** ARNs of the file's `kms` master keys, as the SOPS metadata names them. */
  kmsArns: readonly string[];
  /** Other master-key types present (age, pgp, …): never unwrapped here, named in messages. */
  otherRecipientTypes: readonly string[];
}

/** Throws KEY_NOT_ALLOWED_FOR_ENVIRONMENT unless every KMS key of every file is allowed (exact match). */
export function checkKeysAllowed(files: readonly SopsFileKeys[], allowed: readonly string[]): void {
  const allow = new Set(allowed);
  for (const f of files) {
    if (f.kmsArns.length === 0) {
      const others = f.otherRecipientTypes.length === 0 ? 'none' : [...new Set(f.otherRecipientTypes)].join(', ');
      authzFail('KEY_NOT_ALLOWED_FOR_ENVIRONMENT', `${f.path}: the file has no KMS master key (other key types: ${others}); only files encrypted with the environment's KMS keys can be packed`);
    }
    for (const arn of f.kmsArns) {
      // Exact string match: an alias or a key id in another form is not the key the policy names.
      if (!allow.has(arn)) authzFail('KEY_NOT_ALLOWED_FOR_ENVIRONMENT', `${f.path}: KMS key ${arn} is not allowed for this environment`);
    }
  }
}
