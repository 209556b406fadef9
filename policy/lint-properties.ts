// The findings that decide whether a policy fails open: properties proved by exhaustive
// evaluation with the model (policy/prove), each failure shown as the request that gets
// through. Which properties apply depends on the key (sops, envelope, signing).
import { policyFail } from './errors.ts';
import type { LintOptions } from './lint.ts';
import type { LintCode, LintFinding } from './lint-codes.ts';
import { LINT_CODES } from './lint-codes.ts';
import { provePolicy, type Violation } from './prove/prove.ts';
import { formatCounterexample } from './prove/search.ts';
import { KEY_KINDS, type KeyKind } from './types.ts';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The key a policy is for: --key, else generate's names (Id, CloudFormation id, Terraform name). */
export function keyKindOf(policy: unknown, options: LintOptions, name: string): KeyKind {
  if (options.key !== undefined) return options.key;
  const id = isRecord(policy) && typeof policy.Id === 'string' ? policy.Id : '';
  for (const kind of KEY_KINDS) {
    const names = [`attested-pack-${kind}-key`, kind, `AttestedPack${kind[0]?.toUpperCase()}${kind.slice(1)}Key`, `aws_kms_key.attested_pack_${kind}`, `aws_kms_key_policy.attested_pack_${kind}`];
    if (names.includes(id) || names.includes(name)) return kind;
  }
  if (/kms:recipientattestation:/i.test(JSON.stringify(policy))) return 'sops';
  return policyFail('CANNOT_LINT', `${name}: cannot tell which key this policy is for (sops, envelope or signing): pass --key`);
}

const FIXES: Record<Violation['property']['id'], string> = {
  'sops-attested-use': 'allow the enclave role only with StringEqualsIgnoreCase on the image PCRs, and deny Decrypt/ReEncryptFrom to Principal "*" with one StringNotEqualsIgnoreCase Deny per PCR, Resource "*" (policy generate --key sops)',
  'envelope-wrap': 'allow Encrypt to the enclave role only (policy generate --key envelope)',
  'envelope-unwrap': 'allow Decrypt only to the runtimes, named by ARN; no account-wide (root) statement with Decrypt',
  'signing-sign': 'allow Sign to the enclave role only (policy generate --key signing)',
  'signing-verify': 'allow Verify/GetPublicKey only to the principals that check signatures, named by ARN',
  'role-cannot-administer': 'give policy administration and CreateGrant to a separate admin principal, never to the enclave role (nor to an account-wide statement)',
};

function codeOf(v: Violation): LintCode {
  if (v.property.id === 'sops-attested-use') return 'KP030';
  return v.property.id === 'role-cannot-administer' ? 'KP032' : 'KP031';
}

export function propertyFindings(policy: unknown, options: LintOptions, name: string): LintFinding[] {
  const kind = keyKindOf(policy, options, name);
  const violations = provePolicy(policy, { kind, ...options });
  return violations.map((v): LintFinding => {
    const code = codeOf(v);
    const { statement, request: _request, viaGrant: _viaGrant, ...counterexample } = v.counterexample;
    return {
      code,
      severity: LINT_CODES[code].severity,
      policy: name,
      statement: statement === null ? null : { index: statement.index, sid: statement.sid },
      message: `not proved: ${v.property.claim}. Counterexample: ${formatCounterexample(v.counterexample)}`,
      fix: FIXES[v.property.id],
      counterexample,
    };
  });
}
