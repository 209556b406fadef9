// The one model of KMS key-policy semantics: `policy lint` proves properties with it and the
// KMS emulator (simulator/kms/policy-eval.ts) authorizes requests with it.
export { parseModelPolicy, MAX_POLICY_BYTES } from './parse.ts';
export { evaluate, statementApplies, statementTargets, conditionsHold, clauseHolds, contextOf, actionCovered, resourceCovered } from './evaluate.ts';
export { callerFromArn, principalArnOf, accountOf } from './principal.ts';
export { wildcardMatch, arnMatch } from './wildcard.ts';
export type { Caller, ModelPolicy, ModelStatement, ModelRequest, ConditionClause, PrincipalSet, Decision, Evaluation, RequestContext } from './types.ts';
