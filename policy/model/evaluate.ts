// Key-policy evaluation (IAM "policy evaluation logic", as KMS applies it to a key policy):
// an explicit Deny wins; otherwise an Allow allows; otherwise the request is implicitly
// denied. A statement applies when its principal, action, resource and every condition
// clause match. Positive operators are false for a key absent from the request, negated
// ones true; …IfExists is true for an absent key; ForAllValues is true for an absent or
// empty key, ForAnyValue false. Condition keys are case-insensitive.
import { notPrincipalExempts, principalCovers } from './principal.ts';
import { operatorSpec } from './operators.ts';
import { arnMatch, wildcardMatch } from './wildcard.ts';
import type { ConditionClause, Evaluation, ModelPolicy, ModelRequest, ModelStatement, RequestContext } from './types.ts';

export function actionCovered(patterns: readonly string[], action: string): boolean {
  return patterns.some((p) => wildcardMatch(p, action, true));
}

/** The request's resource is the key ARN; "*" and ARN patterns of the key match, alias ARNs never do. */
export function resourceCovered(patterns: readonly string[], keyArn: string): boolean {
  return patterns.some((p) => (p.startsWith('arn:') ? arnMatch(p, keyArn) : wildcardMatch(p, keyArn)));
}

export function clauseHolds(clause: ConditionClause, context: RequestContext): boolean {
  const actual = context.get(clause.key.toLowerCase());
  const absent = actual === undefined || actual.length === 0;
  const spec = operatorSpec(clause.base);
  if (spec.family === 'null') return clause.values.some((v) => (v.toLowerCase() === 'true' ? absent : !absent));
  if (absent) {
    if (clause.ifExists || clause.qualifier === 'forallvalues') return true;
    if (clause.qualifier === 'foranyvalue') return false;
    return spec.negated;
  }
  const matchesAny = (v: string): boolean => clause.values.some((p) => spec.compare(p, v));
  const valueOk = (v: string): boolean => (spec.negated ? !matchesAny(v) : matchesAny(v));
  if (clause.qualifier === 'forallvalues') return actual.every(valueOk);
  if (clause.qualifier === 'foranyvalue') return actual.some(valueOk);
  // No set qualifier: a negated operator must hold for every value, a positive one for any.
  return spec.negated ? actual.every(valueOk) : actual.some(valueOk);
}

/** Principal, action and resource match (everything but the conditions). */
export function statementTargets(st: ModelStatement, req: Omit<ModelRequest, 'context'>): boolean {
  const principal = st.notPrincipal
    ? !notPrincipalExempts(st.principal, req.caller)
    : principalCovers(st.principal, req.caller, st.effect, req.externalAllow);
  if (!principal) return false;
  if (actionCovered(st.actions, req.action) === st.notAction) return false;
  return resourceCovered(st.resources, req.resource) !== st.notResource;
}

export function conditionsHold(st: ModelStatement, context: RequestContext): boolean {
  return st.conditions.every((c) => clauseHolds(c, context));
}

export function statementApplies(st: ModelStatement, req: ModelRequest): boolean {
  return statementTargets(st, req) && conditionsHold(st, req.context);
}

export function evaluate(policy: ModelPolicy, req: ModelRequest): Evaluation {
  const denies: ModelStatement[] = [];
  const allows: ModelStatement[] = [];
  for (const st of policy.statements) {
    if (statementApplies(st, req)) (st.effect === 'Deny' ? denies : allows).push(st);
  }
  const matched = [...denies, ...allows];
  if (denies.length > 0) return { decision: 'explicit-deny', statement: denies[0] as ModelStatement, matched };
  if (allows.length > 0) return { decision: 'allow', statement: allows[0] as ModelStatement, matched };
  return { decision: 'implicit-deny', statement: null, matched };
}

/** Build a request context from any-case keys (values: string, list, or boolean). */
export function contextOf(entries: Record<string, string | readonly string[] | boolean>): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  for (const [k, v] of Object.entries(entries)) out.set(k.toLowerCase(), typeof v === 'boolean' ? [String(v)] : typeof v === 'string' ? [v] : v);
  return out;
}
