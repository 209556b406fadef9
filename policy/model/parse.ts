// Key-policy document → normalized statements. Fail closed: an element, principal type,
// operator or value the model does not understand is refused (PolicyError), never skipped,
// because a skipped element could be the one that makes the policy fail open.
import { policyFail } from '../errors.ts';
import { OPERATORS, validatePolicyValue } from './operators.ts';
import type { ConditionClause, ModelPolicy, ModelStatement, PrincipalSet } from './types.ts';

/** AWS's limit for a key policy document (KMS "quotas": 32 KB). */
export const MAX_POLICY_BYTES = 32768;
const MAX_STATEMENTS = 256;
const MAX_VALUES = 1024;
const POLICY_ELEMENTS = new Set(['Version', 'Id', 'Statement']);
const STATEMENT_ELEMENTS = new Set(['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition']);
const PARTITION = 'aws(?:-cn|-us-gov|-iso|-iso-b|-iso-e|-iso-f|-eusc)?';
const ROOT_ARN = new RegExp(`^arn:${PARTITION}:iam::(\\d{12}):root$`);
const IAM_ARN = new RegExp(`^arn:${PARTITION}:iam::\\d{12}:(?:user|role)(?:/[\\w+=,.@-]+)+$`);
const STS_ARN = new RegExp(`^arn:${PARTITION}:sts::\\d{12}:(?:assumed-role/[\\w+=,.@-]+/[\\w+=,.@:-]+|federated-user/[\\w+=,.@-]+)$`);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function malformed(where: string, what: string): never {
  return policyFail('POLICY_MALFORMED', `${where} ${what}`);
}

function stringList(v: unknown, where: string): string[] {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) malformed(where, 'must not be an empty list');
  if (list.length > MAX_VALUES) malformed(where, `has more than ${MAX_VALUES} values`);
  return list.map((x) => {
    if (typeof x !== 'string' || x === '') malformed(where, 'must be a non-empty string or a list of them');
    return x;
  });
}

function parseAwsPrincipal(p: string, set: PrincipalSet, where: string): void {
  if (p === '*') set.everyone = true;
  else if (/^\d{12}$/.test(p)) set.accounts.push(p);
  else if (ROOT_ARN.test(p)) set.accounts.push(ROOT_ARN.exec(p)?.[1] as string);
  else if (IAM_ARN.test(p) || STS_ARN.test(p)) set.arns.push(p);
  else malformed(where, `names "${p}", which is not an account id, an account root ARN, or an IAM user/role or STS session ARN (wildcards are not allowed in principals)`);
}

export function parsePrincipal(v: unknown, where: string): PrincipalSet {
  const set: PrincipalSet = { everyone: false, accounts: [], arns: [], services: [], federated: [] };
  if (v === '*') return { ...set, everyone: true };
  if (!isRecord(v)) malformed(where, 'must be "*" or an object of principal types');
  if (Object.keys(v).length === 0) malformed(where, 'names no principal');
  for (const [type, value] of Object.entries(v)) {
    const list = stringList(value, `${where}.${type}`);
    if (type === 'AWS') for (const p of list) parseAwsPrincipal(p, set, `${where}.AWS`);
    else if (type === 'Service') set.services.push(...list);
    else if (type === 'Federated') set.federated.push(...list);
    else policyFail('POLICY_UNSUPPORTED', `${where}: principal type "${type}" is not one KMS key policies use (AWS, Service, Federated)`);
  }
  return set;
}

function conditionValues(raw: unknown, where: string): string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) malformed(where, 'must not be an empty list');
  if (list.length > MAX_VALUES) malformed(where, `has more than ${MAX_VALUES} values`);
  return list.map((x) => {
    if (typeof x === 'string') {
      // Policy variables (${aws:username}) are resolved per request by IAM; the model does not.
      if (x.includes('${')) policyFail('POLICY_UNSUPPORTED', `${where}: policy variable in "${x}" is not modelled`);
      return x;
    }
    if (typeof x === 'number' && Number.isFinite(x)) return String(x);
    if (typeof x === 'boolean') return String(x);
    return malformed(where, 'values must be strings, numbers or booleans');
  });
}

/** `ForAnyValue:StringLikeIfExists` → { base: 'stringlike', qualifier: 'foranyvalue', ifExists: true } (not validated). */
export function splitOperator(operator: string): Pick<ConditionClause, 'base' | 'qualifier' | 'ifExists'> {
  let base = operator.toLowerCase();
  let qualifier: ConditionClause['qualifier'] = null;
  const q = /^(forallvalues|foranyvalue):/.exec(base);
  if (q !== null) {
    qualifier = q[1] as 'forallvalues' | 'foranyvalue';
    base = base.slice(q[0].length);
  }
  const ifExists = base.endsWith('ifexists');
  if (ifExists) base = base.slice(0, -'ifexists'.length);
  return { base, qualifier, ifExists };
}

function parseOperator(operator: string, where: string): Pick<ConditionClause, 'base' | 'qualifier' | 'ifExists'> {
  const { base, qualifier, ifExists } = splitOperator(operator);
  if (!OPERATORS.has(base)) policyFail('POLICY_UNSUPPORTED', `${where}: unknown condition operator "${operator}"`);
  if (base === 'null' && (ifExists || qualifier !== null)) malformed(where, `"${operator}": Null takes no IfExists and no set qualifier`);
  return { base, qualifier, ifExists };
}

export function parseConditions(v: unknown, where: string): ConditionClause[] {
  if (v === undefined) return [];
  if (!isRecord(v)) malformed(where, 'must be an object');
  const out: ConditionClause[] = [];
  const operators = new Set<string>();
  for (const [operator, block] of Object.entries(v)) {
    const op = parseOperator(operator, where);
    const canonical = `${op.qualifier ?? ''}:${op.base}:${op.ifExists}`;
    if (operators.has(canonical)) malformed(where, `repeats the operator "${operator}" (in another case)`);
    operators.add(canonical);
    if (!isRecord(block) || Object.keys(block).length === 0) malformed(`${where}.${operator}`, 'must be a non-empty object');
    const keys = new Set<string>();
    for (const [key, raw] of Object.entries(block)) {
      // Condition keys are case-insensitive: two spellings of one key are ambiguous.
      if (keys.has(key.toLowerCase())) malformed(`${where}.${operator}`, `names the key "${key}" twice (in different case)`);
      keys.add(key.toLowerCase());
      if (!/^[A-Za-z0-9]+:[A-Za-z0-9/:._@+=,-]+$/.test(key)) malformed(`${where}.${operator}`, `has an invalid condition key "${key}"`);
      const values = conditionValues(raw, `${where}.${operator}.${key}`);
      const family = OPERATORS.get(op.base)?.family ?? 'string';
      for (const value of values) validatePolicyValue(family, value, `${where}.${operator}.${key}`);
      out.push({ operator, ...op, key, values });
    }
  }
  return out;
}

function parseActions(v: unknown, where: string): string[] {
  return stringList(v, where).map((a) => {
    if (a !== '*' && !/^[a-zA-Z0-9-]+:[A-Za-z0-9*?]+$/.test(a)) malformed(where, `has an invalid action "${a}"`);
    return a;
  });
}

function exactlyOne(s: Record<string, unknown>, a: string, b: string, where: string): [unknown, boolean] {
  if ((s[a] === undefined) === (s[b] === undefined)) malformed(where, `needs exactly one of ${a} / ${b}`);
  return s[a] !== undefined ? [s[a], false] : [s[b], true];
}

function parseStatement(s: unknown, index: number): ModelStatement {
  const where = `Statement[${index}]`;
  if (!isRecord(s)) malformed(where, 'must be an object');
  for (const k of Object.keys(s)) if (!STATEMENT_ELEMENTS.has(k)) policyFail('POLICY_UNSUPPORTED', `${where}: unknown element "${k}"`);
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') malformed(`${where}.Effect`, 'must be "Allow" or "Deny"');
  if (s.Sid !== undefined && (typeof s.Sid !== 'string' || !/^[A-Za-z0-9 _.-]*$/.test(s.Sid))) malformed(`${where}.Sid`, 'must be a string of letters, digits, spaces, _ . -');
  const [principal, notPrincipal] = exactlyOne(s, 'Principal', 'NotPrincipal', where);
  // IAM: "NotPrincipal must be used with Deny. Using it with Allow is not supported."
  if (notPrincipal && s.Effect === 'Allow') malformed(where, 'uses NotPrincipal with Allow, which IAM does not support (NotPrincipal only with Deny)');
  const [actions, notAction] = exactlyOne(s, 'Action', 'NotAction', where);
  const [resources, notResource] = exactlyOne(s, 'Resource', 'NotResource', where);
  return {
    index,
    sid: typeof s.Sid === 'string' && s.Sid !== '' ? s.Sid : null,
    effect: s.Effect,
    principal: parsePrincipal(principal, `${where}.${notPrincipal ? 'NotPrincipal' : 'Principal'}`),
    notPrincipal,
    actions: parseActions(actions, `${where}.${notAction ? 'NotAction' : 'Action'}`),
    notAction,
    resources: stringList(resources, `${where}.${notResource ? 'NotResource' : 'Resource'}`),
    notResource,
    conditions: parseConditions(s.Condition, `${where}.Condition`),
  };
}

/** Parse a key policy (a JSON value, already read strictly). */
export function parseModelPolicy(raw: unknown): ModelPolicy {
  if (!isRecord(raw)) malformed('the key policy', 'must be a JSON object');
  for (const k of Object.keys(raw)) if (!POLICY_ELEMENTS.has(k)) policyFail('POLICY_UNSUPPORTED', `the key policy has an unknown element "${k}"`);
  const version = raw.Version;
  if (version !== undefined && version !== '2012-10-17' && version !== '2008-10-17') malformed('Version', `"${String(version)}" is not 2012-10-17 or 2008-10-17`);
  if (raw.Id !== undefined && typeof raw.Id !== 'string') malformed('Id', 'must be a string');
  if (raw.Statement === undefined) malformed('the key policy', 'has no Statement');
  const list = Array.isArray(raw.Statement) ? raw.Statement : [raw.Statement];
  if (list.length === 0) malformed('the key policy', 'has no Statement');
  if (list.length > MAX_STATEMENTS) malformed('the key policy', `has more than ${MAX_STATEMENTS} statements`);
  const statements = list.map(parseStatement);
  const sids = statements.map((s) => s.sid).filter((s): s is string => s !== null);
  if (new Set(sids).size !== sids.length) malformed('the key policy', 'repeats a Sid (KMS requires unique Sids)');
  return { version: typeof version === 'string' ? version : null, statements };
}
