// Key-policy generation: one pure function from (key kind, build manifest, principals) to
// the policy document, so the CLI, the demo and a later CDK construct share one source of
// truth. Every statement carries a Sid and a note saying why it exists; renderers put the
// notes next to the statements as comments.
import type { BuildManifest } from '../verifier/build-manifest.ts';
import { requirePrincipalArn, requireRoleArn } from './arn.ts';
import { DEBUG_PCR, pcr3ForRoleArn, pcrConditionKey } from './attestation-keys.ts';
import { policyFail } from './errors.ts';
import { ADMIN_ACTIONS } from './kms-actions.ts';
import type { KeyKind, KeyPolicy, PolicyStatement } from './types.ts';

export interface GenerateKeyPolicyInput {
  key: KeyKind;
  /** Published build manifest: the source of the pinned PCR0/1/2 (and PCR8). */
  manifest: BuildManifest;
  /** Role of the enclave's parent instance; the enclave calls KMS with its credentials. */
  enclaveRoleArn: string;
  /** Key administrators: manage the key and its policy, never use it. */
  adminArns: readonly string[];
  /** envelope: runtimes that Decrypt artifact keys; signing: who may GetPublicKey/Verify. */
  readerArns?: readonly string[];
  /** sops: people/roles who Encrypt SOPS data keys when they write secrets. */
  editorArns?: readonly string[];
  /** sops: also pin PCR3 to this parent-instance role. */
  pcr3RoleArn?: string;
  /** sops: also pin PCR8 (the EIF signing certificate) from the manifest. */
  pinPcr8?: boolean;
  /**
   * sops: further images allowed at the same time (image rollout: old and new PCR sets both
   * decrypt until the old one is removed). Each is pinned exactly like `manifest`.
   */
  additionalManifests?: readonly BuildManifest[];
}

export interface KeySettings {
  description: string;
  keySpec: 'SYMMETRIC_DEFAULT' | 'ECC_NIST_P256';
  keyUsage: 'ENCRYPT_DECRYPT' | 'SIGN_VERIFY';
}

export interface DocumentedKeyPolicy {
  kind: KeyKind;
  policy: KeyPolicy;
  /** Sid → why the statement exists (for comments in CloudFormation/Terraform output). */
  notes: Record<string, string>;
  key: KeySettings;
}

export interface PinnedPcr {
  index: number;
  /** Lowercase hex, 96 characters. */
  value: string;
}

export const ADMIN_SID = 'KeyAdministrationWithoutCryptographicUse';

/** Decrypt, plus ReEncryptFrom: re-encrypting a data key under a key one controls is a decrypt. */
const SOPS_GATED_ACTIONS = ['kms:Decrypt', 'kms:ReEncryptFrom'];

function unique(list: readonly string[]): string[] {
  return [...new Set(list)];
}

function principal(arns: readonly string[]): { AWS: string | string[] } {
  return { AWS: arns.length === 1 ? (arns[0] as string) : [...arns] };
}

/** The PCRs a sops-key policy pins for this input, in index order. */
export function pinnedPcrs(input: Pick<GenerateKeyPolicyInput, 'manifest' | 'pcr3RoleArn' | 'pinPcr8'>): PinnedPcr[] {
  const { pcrs } = input.manifest;
  const out: PinnedPcr[] = [0, 1, 2].map((index) => ({ index, value: pcrs[String(index) as '0' | '1' | '2'].toLowerCase() }));
  for (const p of out) {
    if (p.value === DEBUG_PCR) {
      policyFail('DEBUG_PCRS', `manifest PCR${p.index} is all zeros: that is what a debug-mode enclave reports, and pinning it would let any debug enclave decrypt`);
    }
  }
  if (input.pcr3RoleArn !== undefined) {
    out.push({ index: 3, value: pcr3ForRoleArn(requireRoleArn(input.pcr3RoleArn, 'the PCR3 role')) });
  }
  if (input.pinPcr8 === true) {
    const pcr8 = pcrs['8'];
    if (pcr8 === undefined) policyFail('INVALID_INPUT', 'PCR8 pinning needs a signed EIF, but the manifest has no pcrs.8');
    if (pcr8.toLowerCase() === DEBUG_PCR) policyFail('DEBUG_PCRS', 'manifest PCR8 is all zeros (debug mode)');
    out.push({ index: 8, value: pcr8.toLowerCase() });
  }
  return out;
}

function adminStatement(adminArns: string[]): { statement: PolicyStatement; note: string } {
  return {
    statement: { Sid: ADMIN_SID, Effect: 'Allow', Principal: principal(adminArns), Action: [...ADMIN_ACTIONS], Resource: '*' },
    note:
      'Administrators manage the key (policy, rotation, aliases, tags, deletion) but get no cryptographic ' +
      'action and no CreateGrant. They can still rewrite this policy (PutKeyPolicy): alarm on PutKeyPolicy in CloudTrail.',
  };
}

/**
 * The pinned values per PCR index over the manifest and any additional manifests, in index
 * order; a single string when every image agrees (so one-image policies are unchanged).
 */
export function pinnedPcrValues(input: Pick<GenerateKeyPolicyInput, 'manifest' | 'pcr3RoleArn' | 'pinPcr8' | 'additionalManifests'>): Array<{ index: number; values: string[] }> {
  const byIndex = new Map<number, string[]>();
  for (const manifest of [input.manifest, ...(input.additionalManifests ?? [])]) {
    for (const p of pinnedPcrs({ ...input, manifest })) {
      const list = byIndex.get(p.index) ?? [];
      if (!list.includes(p.value)) list.push(p.value);
      byIndex.set(p.index, list);
    }
  }
  return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([index, values]) => ({ index, values }));
}

function oneOrMany(values: string[]): string | string[] {
  return values.length === 1 ? (values[0] as string) : values;
}

function sopsStatements(input: GenerateKeyPolicyInput, enclave: string, editors: string[]): Array<{ statement: PolicyStatement; note: string }> {
  const pins = pinnedPcrValues(input);
  const pinned: Record<string, string | string[]> = {};
  for (const p of pins) pinned[pcrConditionKey(p.index)] = oneOrMany(p.values);
  const names = pins.map((p) => `PCR${p.index}`).join(', ');
  const images = 1 + (input.additionalManifests?.length ?? 0);
  const rollout =
    images > 1
      ? ` Rollout: ${images} images are allowed (a list per PCR). Mixing values across images cannot match a real ` +
        'enclave: PCR0 is a hash over every section, so it fixes PCR1 and PCR2. Remove the old image once the new one serves.'
      : '';
  const out: Array<{ statement: PolicyStatement; note: string }> = [
    {
      statement: {
        Sid: 'EnclaveDecryptsSopsDataKeysOnlyWhenAttested',
        Effect: 'Allow',
        Principal: { AWS: enclave },
        Action: 'kms:Decrypt',
        Resource: '*',
        Condition: { StringEqualsIgnoreCase: pinned },
      },
      note:
        `The enclave role may Decrypt SOPS data keys only with a Recipient whose attestation document reports ` +
        `${names} of the published build; KMS then returns the key encrypted to the enclave (CiphertextForRecipient), ` +
        'never in plaintext. StringEqualsIgnoreCase as the AWS KMS documentation advises for hex PCRs.' + rollout,
    },
  ];
  for (const p of pins) {
    out.push({
      statement: {
        Sid: `DenyDecryptUnlessAttestedPCR${p.index}`,
        Effect: 'Deny',
        Principal: '*',
        Action: [...SOPS_GATED_ACTIONS],
        Resource: '*',
        Condition: { StringNotEqualsIgnoreCase: { [pcrConditionKey(p.index)]: oneOrMany(p.values) } },
      },
      note:
        `Denies Decrypt/ReEncryptFrom to everyone unless the request's attestation reports this PCR${p.index}. ` +
        'The attestation keys exist only when a Recipient is sent, and a negated operator is true for a missing ' +
        'key, so this also stops plain Decrypt by any principal another statement, an IAM policy or a grant lets in. ' +
        'One Deny per PCR: several keys in one Deny would only deny when all of them differ.' +
        (images > 1 ? ' With a list of values (rollout) it denies when the PCR equals none of them.' : ''),
    });
  }
  if (editors.length > 0) {
    out.push({
      statement: { Sid: 'EditorsEncryptSopsDataKeys', Effect: 'Allow', Principal: principal(editors), Action: 'kms:Encrypt', Resource: '*' },
      note:
        'People who write secrets may Encrypt new SOPS data keys with this key (sops encrypt). They cannot Decrypt: ' +
        'to edit existing files they need another recipient in the SOPS file (e.g. an age key).',
    });
  }
  return out;
}

function envelopeStatements(enclave: string, readers: string[]): Array<{ statement: PolicyStatement; note: string }> {
  const out: Array<{ statement: PolicyStatement; note: string }> = [
    {
      statement: { Sid: 'EnclaveWrapsArtifactDataKeys', Effect: 'Allow', Principal: { AWS: enclave }, Action: 'kms:Encrypt', Resource: '*' },
      note:
        'The enclave wraps each artifact DEK with KMS Encrypt, as clef pack does (no encryption context). Encrypt ' +
        'takes no Recipient, so it cannot be attested; a swapped wrapped key is caught by the artifact signature and the receipt.',
    },
  ];
  if (readers.length > 0) {
    out.push({
      statement: {
        Sid: 'RuntimesUnwrapArtifactDataKeys',
        Effect: 'Allow',
        Principal: principal(readers),
        Action: ['kms:Decrypt', 'kms:DescribeKey'],
        Resource: '*',
      },
      note: 'Runtimes (Clef agent or our reader) Decrypt the wrapped artifact DEK, exactly as for a clef pack artifact.',
    });
  }
  return out;
}

function signingStatements(enclave: string, readers: string[]): Array<{ statement: PolicyStatement; note: string }> {
  const out: Array<{ statement: PolicyStatement; note: string }> = [
    {
      statement: {
        Sid: 'EnclaveSignsArtifactDigests',
        Effect: 'Allow',
        Principal: { AWS: enclave },
        Action: 'kms:Sign',
        Resource: '*',
        Condition: { StringEquals: { 'kms:SigningAlgorithm': 'ECDSA_SHA_256', 'kms:MessageType': 'DIGEST' } },
      },
      note:
        'The enclave signs artifacts the way Clef does: ECDSA_SHA_256 over a SHA-256 digest. Sign takes no Recipient, ' +
        'so whoever holds the role can sign; the attested receipt, not this key, proves an artifact came from the enclave.',
    },
  ];
  if (readers.length > 0) {
    out.push({
      statement: {
        Sid: 'VerifiersReadPublicKey',
        Effect: 'Allow',
        Principal: principal(readers),
        Action: ['kms:GetPublicKey', 'kms:Verify', 'kms:DescribeKey'],
        Resource: '*',
      },
      note: 'Runtimes and auditors fetch the public key (or call Verify) to check artifact signatures.',
    });
  }
  return out;
}

const KEY_SETTINGS: Record<KeyKind, KeySettings> = {
  sops: {
    description: 'attested-pack: SOPS data-key key; Decrypt only by the attested enclave image',
    keySpec: 'SYMMETRIC_DEFAULT',
    keyUsage: 'ENCRYPT_DECRYPT',
  },
  envelope: {
    description: 'attested-pack: wraps artifact data keys (Clef-compatible envelope)',
    keySpec: 'SYMMETRIC_DEFAULT',
    keyUsage: 'ENCRYPT_DECRYPT',
  },
  signing: {
    description: 'attested-pack: artifact signing key (ECDSA P-256, Clef-compatible)',
    keySpec: 'ECC_NIST_P256',
    keyUsage: 'SIGN_VERIFY',
  },
};

/** Generate a key policy with a note per statement and the key's settings. */
export function generateDocumentedKeyPolicy(input: GenerateKeyPolicyInput): DocumentedKeyPolicy {
  const enclave = requireRoleArn(input.enclaveRoleArn, 'the enclave role');
  const admins = unique(input.adminArns.map((a) => requirePrincipalArn(a, 'an admin')));
  if (admins.length === 0) policyFail('INVALID_INPUT', 'at least one key administrator is required');
  if (admins.includes(enclave)) {
    policyFail('INVALID_INPUT', 'the enclave role must not administer the key: the parent instance holds its credentials and could rewrite the policy');
  }
  const readers = unique((input.readerArns ?? []).map((a) => requirePrincipalArn(a, 'a reader')));
  const editors = unique((input.editorArns ?? []).map((a) => requirePrincipalArn(a, 'an editor')));
  if (input.key === 'envelope' && readers.includes(enclave)) {
    policyFail('INVALID_INPUT', 'the enclave role must not be an envelope reader: the parent instance holds its credentials and could unwrap every artifact');
  }

  const parts = [adminStatement(admins)];
  if (input.key === 'sops') parts.push(...sopsStatements(input, enclave, editors));
  else if (input.key === 'envelope') parts.push(...envelopeStatements(enclave, readers));
  else if (input.key === 'signing') parts.push(...signingStatements(enclave, readers));
  else policyFail('INVALID_INPUT', `unknown key kind "${String(input.key)}"`);

  const notes: Record<string, string> = {};
  for (const p of parts) notes[p.statement.Sid] = p.note;
  return {
    kind: input.key,
    policy: { Version: '2012-10-17', Id: `attested-pack-${input.key}-key`, Statement: parts.map((p) => p.statement) },
    notes,
    key: KEY_SETTINGS[input.key],
  };
}

/** The key policy alone (the contract a CDK construct will reuse). */
export function generateKeyPolicy(input: GenerateKeyPolicyInput): KeyPolicy {
  return generateDocumentedKeyPolicy(input).policy;
}
