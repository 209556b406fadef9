// Exhaustive search for a request that breaks a property: every principal class × action
// class × key ARN × attestation context × class of caller-chosen condition values, evaluated
// by the model with "the account's IAM policies allow it" (the worst case: a key-policy Deny
// is the only thing that holds whatever IAM says) and, when some principal may CreateGrant,
// with a grant for anyone (a grant lets in what no Allow does, but never past a Deny).
import { RECIPIENT_ACTIONS } from '../attestation-keys.ts';
import { KMS_ACTIONS } from '../kms-actions.ts';
import { actionCovered, clauseHolds, conditionsHold, statementTargets, type ConditionClause, type Caller, type ModelPolicy, type ModelRequest, type ModelStatement, type RequestContext } from '../model/index.ts';
import { attestationKeys } from './attestation-contexts.ts';
import type { AttestationContext } from './contexts.ts';
import type { PrincipalClass } from './principals.ts';
import { keySource } from './condition-keys.ts';

/** Operations a grant can allow (KMS "grant operations"). */
export const GRANT_OPERATIONS = new Set([
  'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:GenerateDataKeyPair',
  'kms:GenerateDataKeyPairWithoutPlaintext', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:Sign', 'kms:Verify', 'kms:GenerateMac',
  'kms:VerifyMac', 'kms:GetPublicKey', 'kms:DescribeKey', 'kms:CreateGrant', 'kms:RetireGrant', 'kms:DeriveSharedSecret',
]);

export interface SearchSpace {
  policy: ModelPolicy;
  principals: PrincipalClass[];
  resources: string[];
  attestation: AttestationContext[];
  adversarial: Array<Map<string, readonly string[]>>;
}

export interface Counterexample {
  principal: string;
  callerArn: string;
  action: string;
  resource: string;
  attestation: string;
  /** Caller-chosen condition values that the request carries (absent keys left out). */
  conditions: Record<string, readonly string[]>;
  /** Why it is allowed: the statement, and whether IAM delegation or a grant was needed. */
  via: string;
  statement: ModelStatement | null;
  /** The request itself, for replaying through evaluate(). */
  request: ModelRequest;
  /** true: allowed only through a grant (evaluate() says implicit deny; no Deny matched). */
  viaGrant: boolean;
}

export interface Property {
  /** Actions the property restricts, most telling first. */
  actions: readonly string[];
  /** Requests the property does not restrict (the right principal, the right image). */
  permitted(caller: Caller, attestation: AttestationContext, allows: readonly ModelStatement[]): boolean;
}

function callerArn(c: Caller): string {
  return c.kind === 'service' ? c.service : c.kind === 'federated' ? c.provider : c.arn;
}

/** One representative per class of actions every statement treats alike. */
function actionClasses(policy: ModelPolicy, actions: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const a of actions) {
    const sig = policy.statements.map((st) => (actionCovered(st.actions, a) !== st.notAction ? '1' : '0')).join('') + (RECIPIENT_ACTIONS.includes(a) ? 'R' : '') + (GRANT_OPERATIONS.has(a) ? 'G' : '');
    if (!seen.has(sig)) {
      seen.add(sig);
      out.push(a);
    }
  }
  return out;
}

function merge(...maps: Array<ReadonlyMap<string, readonly string[]>>): RequestContext {
  const out = new Map<string, readonly string[]>();
  for (const m of maps) for (const [k, v] of m) out.set(k, v);
  return out;
}

function describeVia(st: ModelStatement | null, caller: Caller, grant: boolean): string {
  if (st === null) return grant ? 'a grant (some principal may CreateGrant, and no Deny stops the request)' : 'nothing';
  const label = st.sid === null ? `Statement[${st.index}]` : `"${st.sid}"`;
  const delegated = !st.principal.everyone && caller.kind !== 'service' && caller.kind !== 'federated' && caller.kind !== 'root' &&
    !st.principal.arns.includes(caller.arn) && !(caller.kind === 'role-session' && st.principal.arns.includes(caller.roleArn));
  return `${label}${delegated ? ' (it names the account, so IAM policies that allow the request let it in)' : ''}`;
}

/** May anyone create a grant on this key? (then a grant can stand in for any missing Allow) */
export function grantPossible(space: SearchSpace): boolean {
  return findCounterexample(space, { actions: ['kms:CreateGrant'], permitted: () => false }, false) !== null;
}

interface Target {
  p: PrincipalClass;
  action: string;
  resource: string;
  allows: ModelStatement[];
  denies: ModelStatement[];
  grantable: boolean;
}

/**
 * The request's outcome, as evaluate() decides it, for statements already known to target
 * the request: a Deny whose conditions hold wins; else the Allows whose conditions hold;
 * else a grant, when one is possible. Returns the allowing statements ([] = via a grant) or null.
 */
function outcome(t: Target, context: RequestContext): ModelStatement[] | null {
  if (t.denies.some((st) => conditionsHold(st, context))) return null;
  const allows = t.allows.filter((st) => conditionsHold(st, context));
  if (allows.length > 0) return allows;
  return t.grantable ? [] : null;
}

/** The first request the property does not permit that the policy lets through, or null. */
export function findCounterexample(space: SearchSpace, property: Property, grant: boolean): Counterexample | null {
  for (const action of actionClasses(space.policy, property.actions.filter((a) => KMS_ACTIONS.includes(a)))) {
    const contexts = RECIPIENT_ACTIONS.includes(action) ? space.attestation : [space.attestation[0] as AttestationContext];
    for (const resource of space.resources) {
      for (const p of space.principals) {
        const targeted = space.policy.statements.filter((st) => statementTargets(st, { caller: p.caller, action, resource, externalAllow: true }));
        const t: Target = { p, action, resource, allows: targeted.filter((s) => s.effect === 'Allow'), denies: targeted.filter((s) => s.effect === 'Deny'), grantable: grant && GRANT_OPERATIONS.has(action) };
        if (t.allows.length === 0 && !t.grantable) continue;
        const found = searchContexts(t, contexts, space.adversarial, property);
        if (found !== null) return found;
      }
    }
  }
  return null;
}

/**
 * Keep one context per distinct outcome of the given clauses (two contexts that make every
 * clause of the targeted statements come out the same decide the request the same way).
 */
function distinct<T>(items: readonly T[], clauses: readonly ConditionClause[], keysOf: (item: T) => RequestContext, extra: (item: T) => string = () => ''): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const ctx = keysOf(item);
    const sig = clauses.map((c) => (clauseHolds(c, ctx) ? '1' : '0')).join('') + extra(item);
    if (seen.has(sig)) return false;
    seen.add(sig);
    return true;
  });
}

function searchContexts(t: Target, contexts: AttestationContext[], adversarial: SearchSpace['adversarial'], property: Property): Counterexample | null {
  const clauses = [...t.allows, ...t.denies].flatMap((st) => st.conditions);
  const attClauses = clauses.filter((c) => keySource(c.key) === 'attestation');
  const advClauses = clauses.filter((c) => keySource(c.key) === 'adversarial');
  const atts = distinct(contexts, attClauses, attestationKeys, (att) => (property.permitted(t.p.caller, att, t.allows) ? 'p' : 'n'));
  const advs = distinct(adversarial, advClauses, (adv) => adv);
  for (const att of atts) {
    const attKeys = attestationKeys(att);
    for (const adv of advs) {
      const context = merge(t.p.keys, attKeys, adv);
      const allows = outcome(t, context);
      if (allows === null || property.permitted(t.p.caller, att, allows)) continue;
      const via = allows[0] ?? null;
      return {
        request: { caller: t.p.caller, action: t.action, resource: t.resource, context, externalAllow: true },
        viaGrant: via === null,
        principal: t.p.label,
        callerArn: callerArn(t.p.caller),
        action: t.action,
        resource: t.resource,
        attestation: att.label,
        conditions: Object.fromEntries(adv),
        via: describeVia(via, t.p.caller, via === null),
        statement: via,
      };
    }
  }
  return null;
}

export function formatCounterexample(c: Counterexample): string {
  const cond = Object.entries(c.conditions).map(([k, v]) => `${k}=${JSON.stringify(v.length === 1 ? v[0] : v)}`).join(', ');
  return `${c.principal} (${c.callerArn}) calls ${c.action} on ${c.resource} with ${c.attestation}${cond === '' ? '' : `, ${cond}`}: allowed by ${c.via}`;
}
