// The key-policy document shape we generate. Field names are the IAM policy language's
// (capitalised) so a value serialises straight to the JSON KMS expects.

/** The three KMS keys an attested-pack deployment uses. */
export type KeyKind = 'sops' | 'envelope' | 'signing';

export const KEY_KINDS: readonly KeyKind[] = ['sops', 'envelope', 'signing'];

/** Operator → condition key → value(s). */
export type PolicyCondition = Record<string, Record<string, string | string[]>>;

export interface PolicyStatement {
  /** Always present in generated policies and says what the statement is for. */
  Sid: string;
  Effect: 'Allow' | 'Deny';
  Principal: '*' | { AWS: string | string[] };
  Action: string | string[];
  /** In a key policy "*" means "this key". */
  Resource: '*';
  Condition?: PolicyCondition;
}

export interface KeyPolicy {
  Version: '2012-10-17';
  Id?: string;
  Statement: PolicyStatement[];
}
