// What lint proves for each key (policy/README.md, "What lint proves"):
// - sops: nobody — the enclave role, its sessions, any principal of any account (through
//   IAM), a service, anyone — uses the key material unless the request carries an
//   attestation document of the manifest's image (PCR0 = ImageSha384 equal to the
//   manifest's); a debug document never passes. Holds whatever IAM policies or grants say.
// - envelope: only the enclave role wraps keys (Encrypt, GenerateDataKey*, ReEncryptTo);
//   only principals the policy names by ARN, never the enclave role, unwrap them.
// - signing: only the enclave role signs; only named principals or the enclave role verify.
// - every key, with --role: the enclave role can neither rewrite the policy nor create grants.
import { policyFail } from '../errors.ts';
import { CRYPTO_ACTIONS } from '../kms-actions.ts';
import type { Caller, ModelStatement } from '../model/index.ts';
import type { KeyKind } from '../types.ts';
import type { AttestationContext } from './contexts.ts';
import { isSessionOf } from './principals.ts';
import type { Property } from './search.ts';

export interface NamedProperty extends Property {
  id: 'sops-attested-use' | 'envelope-wrap' | 'envelope-unwrap' | 'signing-sign' | 'signing-verify' | 'role-cannot-administer';
  /** The property in one sentence, for the finding. */
  claim: string;
}

const SOPS_GUARDED = ['kms:Decrypt', 'kms:ReEncryptFrom', ...CRYPTO_ACTIONS.filter((a) => a !== 'kms:Encrypt' && a !== 'kms:Decrypt' && a !== 'kms:ReEncryptFrom')];
const WRAP = ['kms:Encrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptTo', 'kms:GenerateDataKeyPair', 'kms:GenerateDataKeyPairWithoutPlaintext'];
const UNWRAP = ['kms:Decrypt', 'kms:ReEncryptFrom'];

/**
 * Allowed by a statement that names this caller: by ARN (its own, or its role's), or its
 * account (a whole account named as a reader: that account's IAM policies choose). Never
 * "*" or a Service/Federated entry.
 */
function namedBy(caller: Caller, allows: readonly ModelStatement[]): boolean {
  if (caller.kind === 'service' || caller.kind === 'federated') return false;
  return allows.some((st) => !st.notPrincipal && !st.principal.everyone &&
    (st.principal.arns.includes(caller.arn) || (caller.kind === 'role-session' && st.principal.arns.includes(caller.roleArn)) || st.principal.accounts.includes(caller.account)));
}

export function propertiesFor(kind: KeyKind, role: string | undefined, goodImage: (att: AttestationContext) => boolean): NamedProperty[] {
  const out: NamedProperty[] = [];
  if (kind === 'sops') {
    out.push({
      id: 'sops-attested-use',
      claim: "no principal uses the sops key's material without an attestation document of the manifest's image",
      actions: SOPS_GUARDED,
      permitted: (_caller, att) => goodImage(att),
    });
  } else {
    if (role === undefined) policyFail('CANNOT_LINT', `the ${kind} key's properties are about the enclave role: pass --role`);
    if (kind === 'envelope') {
      out.push(
        { id: 'envelope-wrap', claim: 'only the enclave role wraps artifact keys with the envelope key', actions: WRAP, permitted: (c) => isSessionOf(c, role) },
        { id: 'envelope-unwrap', claim: 'only the runtimes the policy names, by ARN or account (never the enclave role), unwrap artifact keys', actions: UNWRAP, permitted: (c, _a, allows) => !isSessionOf(c, role) && namedBy(c, allows) },
      );
    } else {
      out.push(
        { id: 'signing-sign', claim: 'only the enclave role signs with the signing key', actions: ['kms:Sign', 'kms:GenerateMac'], permitted: (c) => isSessionOf(c, role) },
        { id: 'signing-verify', claim: 'only named principals (or the enclave role) verify or read the public key', actions: ['kms:Verify', 'kms:GetPublicKey', 'kms:VerifyMac'], permitted: (c, _a, allows) => isSessionOf(c, role) || namedBy(c, allows) },
      );
    }
  }
  if (role !== undefined) {
    out.push({
      id: 'role-cannot-administer',
      claim: 'the enclave role (whose credentials the parent instance holds) can neither rewrite the key policy nor create grants',
      actions: ['kms:PutKeyPolicy', 'kms:CreateGrant'],
      permitted: (c) => !isSessionOf(c, role),
    });
  }
  return out;
}
