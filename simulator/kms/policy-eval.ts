// Key-policy evaluation: the subset of the IAM policy language that KMS key policies use.
// Semantics follow the IAM "policy evaluation logic" and "condition operators" pages:
// an explicit Deny wins, otherwise any Allow allows, otherwise the request is implicitly
// denied. Negated operators (StringNot*, ArnNot*) are TRUE when the key is absent from
// the request — that is why an attestation-pinning policy needs a Deny with
// StringNotEqualsIgnoreCase: it also catches requests without a Recipient.
//
// The emulator has no IAM: a Principal of the account root (`arn:aws:iam::<acct>:root` or
// the bare account id) stands for "every principal of that account", as if their IAM
// policies allowed everything.
import { kmsFail } from './errors.ts';

export type ConditionValue = string | string[];

export interface PolicyRequest {
  /** e.g. "kms:Decrypt" */
  action: string;
  principalArn: string;
  /** Key ARN */
  resource: string;
  /** Condition keys (any case) → value(s). Absent keys are simply not present. */
  context: Record<string, ConditionValue | boolean>;
}

export interface PolicyDecision {
  decision: 'allow' | 'deny' | 'implicit-deny';
  /** Sids (or "Statement[i]") of the statements that matched, Deny ones first. */
  matched: string[];
}

interface PrincipalSpec {
  any: boolean;
  aws: string[];
  /** Service / Federated / CanonicalUser: valid syntax, never one of our callers. */
  other: string[];
}

interface ConditionClause {
  operator: string;
  key: string;
  values: string[];
}

export interface PolicyStatement {
  sid: string;
  effect: 'Allow' | 'Deny';
  principal?: PrincipalSpec;
  notPrincipal?: PrincipalSpec;
  action?: string[];
  notAction?: string[];
  resource?: string[];
  notResource?: string[];
  conditions: ConditionClause[];
}

export interface KeyPolicy {
  version: string | undefined;
  statements: PolicyStatement[];
}

const BASE_OPERATORS = new Set(
  [
    'StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike', 'StringNotLike',
    'ArnEquals', 'ArnNotEquals', 'ArnLike', 'ArnNotLike', 'Bool', 'Null',
    'NumericEquals', 'NumericNotEquals', 'NumericLessThan', 'NumericLessThanEquals', 'NumericGreaterThan', 'NumericGreaterThanEquals',
  ].map((s) => s.toLowerCase()),
);

const MAX_POLICY_BYTES = 32768;

function malformed(message: string): never {
  return kmsFail('MalformedPolicyDocumentException', message);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: unknown, where: string): string[] {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) malformed(`${where} must not be empty`);
  return list.map((x) => {
    if (typeof x !== 'string' || x === '') malformed(`${where} must be a string or a list of strings`);
    return x;
  });
}

function parsePrincipal(v: unknown, where: string): PrincipalSpec {
  if (v === '*') return { any: true, aws: [], other: [] };
  if (!isRecord(v)) malformed(`${where} must be "*" or an object`);
  const spec: PrincipalSpec = { any: false, aws: [], other: [] };
  for (const [type, value] of Object.entries(v)) {
    const list = stringList(value, `${where}.${type}`);
    if (type === 'AWS') {
      for (const p of list) {
        if (p === '*') spec.any = true;
        else if (/^\d{12}$/.test(p) || /^arn:aws[a-z-]*:(iam|sts)::\d{12}:.+$/.test(p)) spec.aws.push(p);
        else malformed(`${where}.AWS contains an invalid principal "${p}"`);
      }
    } else if (type === 'Service' || type === 'Federated' || type === 'CanonicalUser') {
      spec.other.push(...list);
    } else {
      malformed(`${where} has an unknown principal type "${type}"`);
    }
  }
  return spec;
}

function parseConditions(v: unknown, where: string): ConditionClause[] {
  if (v === undefined) return [];
  if (!isRecord(v)) malformed(`${where} must be an object`);
  const out: ConditionClause[] = [];
  for (const [operator, block] of Object.entries(v)) {
    let base = operator.toLowerCase();
    const set = /^(forallvalues|foranyvalue):/.exec(base);
    if (set !== null) base = base.slice(set[0].length);
    if (base.endsWith('ifexists')) base = base.slice(0, -'ifexists'.length);
    if (!BASE_OPERATORS.has(base)) malformed(`${where} uses an unsupported condition operator "${operator}"`);
    if (!isRecord(block)) malformed(`${where}.${operator} must be an object`);
    for (const [key, raw] of Object.entries(block)) {
      const list = Array.isArray(raw) ? raw : [raw];
      if (list.length === 0) malformed(`${where}.${operator}.${key} must not be empty`);
      const values = list.map((x) => {
        if (typeof x === 'string') return x;
        if (typeof x === 'boolean' || typeof x === 'number') return String(x);
        return malformed(`${where}.${operator}.${key} values must be strings`);
      });
      out.push({ operator, key, values });
    }
  }
  return out;
}

/** Parse and validate a key policy document; MalformedPolicyDocumentException otherwise. */
export function parseKeyPolicy(input: string | unknown): KeyPolicy {
  let raw: unknown = input;
  if (typeof input === 'string') {
    if (Buffer.byteLength(input, 'utf8') > MAX_POLICY_BYTES) malformed(`The key policy exceeds ${MAX_POLICY_BYTES} bytes.`);
    try {
      raw = JSON.parse(input);
    } catch {
      malformed('The key policy is not valid JSON.');
    }
  }
  if (!isRecord(raw)) malformed('The key policy must be a JSON object.');
  const version = raw.Version;
  if (version !== undefined && version !== '2012-10-17' && version !== '2008-10-17') malformed(`Unsupported policy Version "${String(version)}".`);
  const rawStatements = Array.isArray(raw.Statement) ? raw.Statement : raw.Statement === undefined ? malformed('The key policy has no Statement.') : [raw.Statement];
  if (rawStatements.length === 0) malformed('The key policy has no Statement.');
  const statements = rawStatements.map((s, i): PolicyStatement => {
    const where = `Statement[${i}]`;
    if (!isRecord(s)) malformed(`${where} must be an object`);
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') malformed(`${where}.Effect must be "Allow" or "Deny"`);
    if ((s.Principal === undefined) === (s.NotPrincipal === undefined)) malformed(`${where} needs exactly one of Principal / NotPrincipal (key policies require a principal)`);
    if ((s.Action === undefined) === (s.NotAction === undefined)) malformed(`${where} needs exactly one of Action / NotAction`);
    if ((s.Resource === undefined) === (s.NotResource === undefined)) malformed(`${where} needs exactly one of Resource / NotResource`);
    if (s.Sid !== undefined && typeof s.Sid !== 'string') malformed(`${where}.Sid must be a string`);
    const st: PolicyStatement = {
      sid: typeof s.Sid === 'string' && s.Sid !== '' ? s.Sid : where,
      effect: s.Effect,
      conditions: parseConditions(s.Condition, `${where}.Condition`),
    };
    if (s.Principal !== undefined) st.principal = parsePrincipal(s.Principal, `${where}.Principal`);
    if (s.NotPrincipal !== undefined) st.notPrincipal = parsePrincipal(s.NotPrincipal, `${where}.NotPrincipal`);
    if (s.Action !== undefined) st.action = stringList(s.Action, `${where}.Action`);
    if (s.NotAction !== undefined) st.notAction = stringList(s.NotAction, `${where}.NotAction`);
    if (s.Resource !== undefined) st.resource = stringList(s.Resource, `${where}.Resource`);
    if (s.NotResource !== undefined) st.notResource = stringList(s.NotResource, `${where}.NotResource`);
    for (const a of [...(st.action ?? []), ...(st.notAction ?? [])]) {
      if (a !== '*' && !/^[a-zA-Z0-9-]+:[A-Za-z0-9*?]+$/.test(a)) malformed(`${where} has an invalid action "${a}"`);
    }
    return st;
  });
  const sids = statements.map((s) => s.sid).filter((s) => !s.startsWith('Statement['));
  if (new Set(sids).size !== sids.length) malformed('Statement Sids must be unique.');
  return { version: typeof version === 'string' ? version : undefined, statements };
}

/** IAM wildcard match: `*` any run, `?` one character. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const v = ignoreCase ? value.toLowerCase() : value;
  // Iterative glob matching with backtracking on the last '*'.
  let pi = 0;
  let vi = 0;
  let star = -1;
  let mark = 0;
  while (vi < v.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === v[vi])) {
      pi++;
      vi++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = vi;
    } else if (star >= 0) {
      pi = star + 1;
      vi = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

function accountOf(arn: string): string | undefined {
  return /^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):/.exec(arn)?.[1];
}

/** The IAM role ARN an STS assumed-role session belongs to (roles match their sessions). */
function roleOfSession(arn: string): string | undefined {
  const m = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(arn);
  return m === null ? undefined : `arn:${m[1]}:iam::${m[2]}:role/${m[3]}`;
}

function principalMatches(spec: PrincipalSpec, caller: string): boolean {
  if (spec.any) return true;
  const callerAccount = accountOf(caller);
  const role = roleOfSession(caller);
  for (const p of spec.aws) {
    if (/^\d{12}$/.test(p) || /:root$/.test(p)) {
      if (accountOf(p) === callerAccount || p === callerAccount) return true;
    } else if (p === caller || (role !== undefined && p === role)) {
      return true;
    } else if (role !== undefined && /:role\//.test(p) && p.replace(/:role\/.*\//, ':role/') === role) {
      // A role with a path (role/path/Name) still matches sessions "assumed-role/Name/…".
      return true;
    }
  }
  return false;
}

function actionMatches(patterns: string[], action: string): boolean {
  return patterns.some((p) => wildcardMatch(p, action, true));
}

function resourceMatches(patterns: string[], resource: string): boolean {
  return patterns.some((p) => wildcardMatch(p, resource));
}

function lookup(context: PolicyRequest['context'], key: string): string[] | undefined {
  const wanted = key.toLowerCase();
  for (const [k, v] of Object.entries(context)) {
    if (k.toLowerCase() === wanted) {
      if (typeof v === 'boolean') return [String(v)];
      return Array.isArray(v) ? v : [v];
    }
  }
  return undefined;
}

function compareOne(base: string, pattern: string, value: string): boolean {
  switch (base) {
    case 'stringequals':
    case 'stringnotequals':
      return pattern === value;
    case 'stringequalsignorecase':
    case 'stringnotequalsignorecase':
      return pattern.toLowerCase() === value.toLowerCase();
    case 'stringlike':
    case 'stringnotlike':
      return wildcardMatch(pattern, value);
    case 'arnequals':
    case 'arnnotequals':
    case 'arnlike':
    case 'arnnotlike':
      return arnMatch(pattern, value);
    case 'bool':
      return pattern.toLowerCase() === value.toLowerCase();
    default: {
      const a = Number(value);
      const b = Number(pattern);
      if (Number.isNaN(a) || Number.isNaN(b)) return false;
      if (base.startsWith('numericequals') || base === 'numericnotequals') return a === b;
      if (base === 'numericlessthan') return a < b;
      if (base === 'numericlessthanequals') return a <= b;
      if (base === 'numericgreaterthan') return a > b;
      return a >= b;
    }
  }
}

/** ARN matching compares the six colon-separated parts one by one, each with wildcards. */
function arnMatch(pattern: string, value: string): boolean {
  const pp = splitArn(pattern);
  const vp = splitArn(value);
  if (pp === undefined || vp === undefined) return false;
  return pp.every((part, i) => wildcardMatch(part, vp[i] ?? ''));
}

function splitArn(arn: string): string[] | undefined {
  const parts = arn.split(':');
  if (parts.length < 6) return undefined;
  return [...parts.slice(0, 5), parts.slice(5).join(':')];
}

function isNegated(base: string): boolean {
  return base === 'stringnotequals' || base === 'stringnotequalsignorecase' || base === 'stringnotlike' || base === 'arnnotequals' || base === 'arnnotlike' || base === 'numericnotequals';
}

function clauseHolds(clause: ConditionClause, context: PolicyRequest['context']): boolean {
  let op = clause.operator.toLowerCase();
  let setOp: 'forallvalues' | 'foranyvalue' | undefined;
  const m = /^(forallvalues|foranyvalue):/.exec(op);
  if (m !== null) {
    setOp = m[1] as 'forallvalues' | 'foranyvalue';
    op = op.slice(m[0].length);
  }
  const ifExists = op.endsWith('ifexists');
  const base = ifExists ? op.slice(0, -'ifexists'.length) : op;
  const actual = lookup(context, clause.key);

  if (base === 'null') {
    const wantAbsent = clause.values.some((v) => v.toLowerCase() === 'true');
    const wantPresent = clause.values.some((v) => v.toLowerCase() === 'false');
    const absent = actual === undefined || actual.length === 0;
    return (wantAbsent && absent) || (wantPresent && !absent);
  }
  if (actual === undefined || actual.length === 0) {
    if (ifExists) return true;
    if (setOp === 'forallvalues') return true; // vacuously true over an empty set
    if (setOp === 'foranyvalue') return false;
    return isNegated(base);
  }
  const negated = isNegated(base);
  // Positive operators: a value matches when it equals any of the policy values.
  // Negated operators: a value matches when it equals none of them.
  const valueMatches = (v: string): boolean => {
    const any = clause.values.some((p) => compareOne(base, p, v));
    return negated ? !any : any;
  };
  if (setOp === 'forallvalues') return actual.every(valueMatches);
  if (setOp === 'foranyvalue') return actual.some(valueMatches);
  // Single-valued key (multi-valued without a set operator: any value decides).
  return negated ? actual.every(valueMatches) : actual.some(valueMatches);
}

function statementApplies(st: PolicyStatement, req: PolicyRequest): boolean {
  if (st.principal !== undefined && !principalMatches(st.principal, req.principalArn)) return false;
  if (st.notPrincipal !== undefined && principalMatches(st.notPrincipal, req.principalArn)) return false;
  if (st.action !== undefined && !actionMatches(st.action, req.action)) return false;
  if (st.notAction !== undefined && actionMatches(st.notAction, req.action)) return false;
  if (st.resource !== undefined && !resourceMatches(st.resource, req.resource)) return false;
  if (st.notResource !== undefined && resourceMatches(st.notResource, req.resource)) return false;
  return st.conditions.every((c) => clauseHolds(c, req.context));
}

/** Evaluate a key policy (parsed, JSON text or a JSON value) for one request. */
export function evaluateKeyPolicy(policy: KeyPolicy | string | Record<string, unknown>, request: PolicyRequest): PolicyDecision {
  // A parsed policy has `statements`; a JSON policy document has `Statement`.
  const isParsed = typeof policy === 'object' && policy !== null && Array.isArray((policy as { statements?: unknown }).statements);
  const parsed: KeyPolicy = isParsed ? (policy as KeyPolicy) : parseKeyPolicy(policy);
  const denies: string[] = [];
  const allows: string[] = [];
  for (const st of parsed.statements) {
    if (statementApplies(st, request)) (st.effect === 'Deny' ? denies : allows).push(st.sid);
  }
  if (denies.length > 0) return { decision: 'deny', matched: [...denies, ...allows] };
  if (allows.length > 0) return { decision: 'allow', matched: allows };
  return { decision: 'implicit-deny', matched: [] };
}

/** The policy KMS attaches when CreateKey gets none: the account root may do everything. */
export function defaultKeyPolicy(accountId: string): string {
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${accountId}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    },
    null,
    2,
  );
}
