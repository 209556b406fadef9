// Stable lint codes. Scripts and CI match on the code; messages may change. Each code has
// one fixed severity and one known-bad policy in fixtures/ that triggers it.

export type LintSeverity = 'error' | 'warning';

export const LINT_CODES = {
  KP001: { severity: 'error', title: 'attested Allow without a Deny that stops the same action when the attestation is missing or different' },
  KP002: { severity: 'error', title: 'case-sensitive comparison (StringEquals/StringNotEquals) of a hex attestation value' },
  KP003: { severity: 'error', title: 'wildcard match (StringLike/StringNotLike) on an attestation key' },
  KP004: { severity: 'error', title: '…IfExists operator on an attestation key' },
  KP005: { severity: 'error', title: 'attestation condition on an action that never carries a Recipient' },
  KP006: { severity: 'error', title: 'Bool or Null operator misused on an attestation key' },
  KP007: { severity: 'error', title: 'all-zero (debug-mode) PCR pinned' },
  KP008: { severity: 'error', title: 'Allow to a wildcard principal' },
  KP009: { severity: 'error', title: 'kms:* (or *) granted to the enclave role or in an attested statement' },
  KP010: { severity: 'error', title: 'pinned PCR does not match the build manifest' },
  KP011: { severity: 'error', title: 'malformed PCR value (not 96 hexadecimal characters)' },
  KP012: { severity: 'warning', title: 'uppercase hex in a PCR value (AWS documents lowercase)' },
  KP013: { severity: 'error', title: 'attestation key that does not exist for Nitro Enclaves (NitroTPM key, typo, bad index)' },
  KP014: { severity: 'error', title: 'non-string operator on an attestation key' },
  KP015: { severity: 'warning', title: 'statement without a Sid, or a duplicate Sid' },
  KP016: { severity: 'error', title: 'Deny combines several attestation conditions (it only denies when all of them fail)' },
  KP017: { severity: 'error', title: 'attestation Deny does not apply to every principal' },
  KP018: { severity: 'error', title: 'Decrypt/ReEncryptFrom allowed without attestation and not stopped by a Deny' },
  KP019: { severity: 'error', title: 'ForAnyValue/ForAllValues set operator on a single-valued attestation key' },
  KP020: { severity: 'warning', title: 'Allow with NotAction or NotPrincipal (grants everything not listed)' },
  KP021: { severity: 'error', title: 'attested Allow pins no image measurement (ImageSha384, PCR0, 1, 2 or 8)' },
  KP022: { severity: 'warning', title: 'kms:* (or *) granted to a principal' },
  KP023: { severity: 'error', title: 'the enclave role may rewrite the policy or delegate (PutKeyPolicy, CreateGrant)' },
  KP024: { severity: 'error', title: 'attestation Deny has other conditions too (it only denies when they also hold)' },
  KP025: { severity: 'error', title: 'attestation Deny does not cover kms:Decrypt although the policy allows Decrypt' },
  KP026: { severity: 'error', title: 'attestation comparison of the wrong polarity (negated in an Allow, positive in a Deny)' },
  KP027: { severity: 'error', title: 'the enclave role (--role) may Decrypt without any attestation requirement' },
  KP028: { severity: 'warning', title: 'pinned PCR3 is not the hash of the --role ARN' },
  KP029: { severity: 'warning', title: 'PCR4 pinned: the key works on one parent instance only' },
  KP030: { severity: 'error', title: "sops key: a request without an attestation of the manifest's image uses the key material (counterexample shown)" },
  KP031: { severity: 'error', title: 'envelope/signing key: a principal other than the ones the key is for wraps, unwraps, signs or verifies (counterexample shown)' },
  KP032: { severity: 'error', title: 'the enclave role may rewrite the key policy or create grants (counterexample shown)' },
} as const satisfies Record<string, { severity: LintSeverity; title: string }>;

export type LintCode = keyof typeof LINT_CODES;

export interface LintFinding {
  code: LintCode;
  severity: LintSeverity;
  /** Which policy in the file ("policy", a CloudFormation logical id, a Terraform address). */
  policy: string;
  /** The statement (index in Statement, and its Sid if it has one); null for policy-wide findings. */
  statement: { index: number; sid: string | null } | null;
  message: string;
  fix: string;
  /** For KP030–KP032: the request that gets through, as the model evaluates it. */
  counterexample?: {
    principal: string;
    callerArn: string;
    action: string;
    resource: string;
    attestation: string;
    conditions: Record<string, readonly string[]>;
    via: string;
  };
}
