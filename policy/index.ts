// Entry points of the policy folder (a later CDK construct imports from here).
export { generateKeyPolicy, generateDocumentedKeyPolicy, pinnedPcrs, type GenerateKeyPolicyInput, type DocumentedKeyPolicy } from './generate.ts';
export { lintKeyPolicy, lintPolicies, hasErrors, type LintOptions } from './lint.ts';
export { LINT_CODES, type LintCode, type LintFinding } from './lint-codes.ts';
export { readPolicyFile, readPolicyFileAsync, type NamedPolicy } from './read.ts';
export { provePolicy, type ProveOptions, type Violation } from './prove/prove.ts';
export { parseModelPolicy, evaluate, callerFromArn } from './model/index.ts';
export { renderPolicies, POLICY_FORMATS, type PolicyFormat } from './render.ts';
export { pcr3ForRoleArn, IMAGE_SHA384_KEY, pcrConditionKey, RECIPIENT_ACTIONS } from './attestation-keys.ts';
export { PolicyError, isPolicyError, POLICY_ERROR_CODES, type PolicyErrorCode } from './errors.ts';
export type { KeyKind, KeyPolicy, PolicyStatement } from './types.ts';
