// The normalized form of a KMS key policy and of one request against it: what the model
// evaluates. Field names are ours (lowercase); the parser maps the IAM policy language onto them.

/** Who signs the request. Sessions carry the role they were assumed from (with its path). */
export type Caller =
  | { kind: 'user'; arn: string; account: string }
  | { kind: 'root'; arn: string; account: string }
  | { kind: 'role-session'; arn: string; account: string; roleArn: string }
  | { kind: 'federated-user'; arn: string; account: string }
  | { kind: 'service'; service: string }
  | { kind: 'federated'; provider: string };

/** A Principal / NotPrincipal element. `everyone`: "*" or {"AWS":"*"} (IAM: equivalent). */
export interface PrincipalSet {
  everyone: boolean;
  /** 12-digit account ids named as an account (bare id or arn:…:iam::ID:root). */
  accounts: string[];
  /** Exact IAM/STS principal ARNs (users, roles, sessions, federated users). */
  arns: string[];
  services: string[];
  federated: string[];
}

export type SetQualifier = 'forallvalues' | 'foranyvalue' | null;

export interface ConditionClause {
  /** As written, for messages. */
  operator: string;
  /** Lowercase base operator without qualifier and IfExists, e.g. "stringnotequalsignorecase". */
  base: string;
  qualifier: SetQualifier;
  ifExists: boolean;
  /** As written; compared case-insensitively. */
  key: string;
  /** Policy values as strings (JSON numbers and booleans converted as IAM does). */
  values: string[];
}

export interface ModelStatement {
  index: number;
  sid: string | null;
  effect: 'Allow' | 'Deny';
  principal: PrincipalSet;
  /** true: the element was NotPrincipal (only valid with Deny). */
  notPrincipal: boolean;
  actions: string[];
  notAction: boolean;
  resources: string[];
  notResource: boolean;
  conditions: ConditionClause[];
}

export interface ModelPolicy {
  version: string | null;
  statements: ModelStatement[];
}

/** Condition keys (lowercase) → values; an absent key is simply not in the map. */
export type RequestContext = ReadonlyMap<string, readonly string[]>;

export interface ModelRequest {
  caller: Caller;
  /** e.g. "kms:Decrypt" */
  action: string;
  /** The key's ARN (KMS evaluates a key policy against the key ARN, never an alias ARN). */
  resource: string;
  context: RequestContext;
  /**
   * What the identity policies of the caller's account (and grants) say, which a key policy
   * cannot see: true = they allow this request. Key-policy statements that name an account
   * delegate to them; a Deny in the key policy wins either way.
   */
  externalAllow: boolean;
}

export type Decision = 'allow' | 'explicit-deny' | 'implicit-deny';

export interface Evaluation {
  decision: Decision;
  /** The statement that decided (first matching Deny, else first matching Allow); null for implicit deny. */
  statement: ModelStatement | null;
  /** Every statement that applied, Deny first. */
  matched: ModelStatement[];
}
