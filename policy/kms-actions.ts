// The KMS action names, so that wildcards in a policy ("kms:*", "kms:Re*") can be expanded
// into the operations they really grant. List from the KMS API reference.

export const KMS_ACTIONS: readonly string[] = [
  'kms:CancelKeyDeletion', 'kms:ConnectCustomKeyStore', 'kms:CreateAlias', 'kms:CreateCustomKeyStore',
  'kms:CreateGrant', 'kms:CreateKey', 'kms:Decrypt', 'kms:DeleteAlias', 'kms:DeleteCustomKeyStore',
  'kms:DeleteImportedKeyMaterial', 'kms:DeriveSharedSecret', 'kms:DescribeCustomKeyStores', 'kms:DescribeKey',
  'kms:DisableKey', 'kms:DisableKeyRotation', 'kms:DisconnectCustomKeyStore', 'kms:EnableKey',
  'kms:EnableKeyRotation', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKeyPair',
  'kms:GenerateDataKeyPairWithoutPlaintext', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:GenerateMac',
  'kms:GenerateRandom', 'kms:GetKeyPolicy', 'kms:GetKeyRotationStatus', 'kms:GetParametersForImport',
  'kms:GetPublicKey', 'kms:ImportKeyMaterial', 'kms:ListAliases', 'kms:ListGrants', 'kms:ListKeyPolicies',
  'kms:ListKeyRotations', 'kms:ListKeys', 'kms:ListResourceTags', 'kms:ListRetirableGrants', 'kms:PutKeyPolicy',
  'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:ReplicateKey', 'kms:RetireGrant', 'kms:RevokeGrant',
  'kms:RotateKeyOnDemand', 'kms:ScheduleKeyDeletion', 'kms:Sign', 'kms:TagResource', 'kms:UntagResource',
  'kms:UpdateAlias', 'kms:UpdateCustomKeyStore', 'kms:UpdateKeyDescription', 'kms:UpdatePrimaryRegion',
  'kms:Verify', 'kms:VerifyMac',
];

/**
 * Administration without any cryptographic use of the key: an explicit list, not the
 * "kms:Get*, kms:Put*…" wildcards of the AWS console default, so that a new KMS action can
 * never silently widen it. kms:CreateGrant is left out on purpose: a grant could hand
 * Decrypt to anyone.
 */
export const ADMIN_ACTIONS: readonly string[] = [
  'kms:DescribeKey', 'kms:GetKeyPolicy', 'kms:PutKeyPolicy', 'kms:ListKeyPolicies', 'kms:ListResourceTags',
  'kms:TagResource', 'kms:UntagResource', 'kms:EnableKey', 'kms:DisableKey', 'kms:EnableKeyRotation',
  'kms:DisableKeyRotation', 'kms:GetKeyRotationStatus', 'kms:UpdateKeyDescription', 'kms:CreateAlias',
  'kms:UpdateAlias', 'kms:DeleteAlias', 'kms:ListAliases', 'kms:ListGrants', 'kms:RevokeGrant',
  'kms:ScheduleKeyDeletion', 'kms:CancelKeyDeletion',
];

/** Actions that use the key material (or delegate its use, CreateGrant). */
export const CRYPTO_ACTIONS: readonly string[] = [
  'kms:Decrypt', 'kms:Encrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext', 'kms:GenerateDataKeyPair', 'kms:GenerateDataKeyPairWithoutPlaintext',
  'kms:GenerateMac', 'kms:VerifyMac', 'kms:Sign', 'kms:Verify', 'kms:DeriveSharedSecret', 'kms:CreateGrant',
];

/** Actions that turn an existing ciphertext of this key into something its caller can read. */
export const PLAINTEXT_RELEASE_ACTIONS: readonly string[] = ['kms:Decrypt', 'kms:ReEncryptFrom'];

const compiled = new Map<string, RegExp>();

/** IAM wildcard match (`*` any run, `?` one character); action names are case-insensitive. */
export function actionPatternMatches(pattern: string, action: string): boolean {
  let re = compiled.get(pattern);
  if (re === undefined) {
    re = new RegExp(`^${pattern.toLowerCase().replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    if (compiled.size < 1024) compiled.set(pattern, re);
  }
  return re.test(action.toLowerCase());
}

/** Every known KMS action that a list of patterns covers. */
export function expandActions(patterns: readonly string[]): string[] {
  return KMS_ACTIONS.filter((a) => patterns.some((p) => actionPatternMatches(p, a)));
}
