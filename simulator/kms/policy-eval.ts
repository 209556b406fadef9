// Key-policy authorization for the KMS emulator: a thin adapter over policy/model, the one
// model of key-policy semantics that `policy lint` proves its properties with (so the
// emulator and the linter cannot disagree about what a policy allows). This file only maps
// the emulator's request shape onto the model and model refusals onto KMS's
// MalformedPolicyDocumentException.
//
// The emulator has no IAM: a statement naming the account (root ARN or id) lets every
// principal of that account in, as if their IAM policies allowed everything.
import { isPolicyError } from '../../policy/errors.ts';
import { callerFromArn, contextOf, evaluate, MAX_POLICY_BYTES, parseModelPolicy, type ModelPolicy } from '../../policy/model/index.ts';
import { parseStrictJson } from '../../verifier/strict-json.ts';
import { kmsFail } from './errors.ts';

export { wildcardMatch } from '../../policy/model/index.ts';

export type ConditionValue = string | string[];

export interface PolicyRequest {
  /** e.g. "kms:Decrypt" */
  action: string;
  principalArn: string;
  /** The role ARN (with its path) when principalArn is an STS assumed-role session. */
  roleArn?: string;
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

export type KeyPolicy = ModelPolicy;

function malformed(message: string): never {
  return kmsFail('MalformedPolicyDocumentException', message);
}

/** Parse and validate a key policy document; MalformedPolicyDocumentException otherwise. */
export function parseKeyPolicy(input: string | unknown): KeyPolicy {
  let raw: unknown = input;
  if (typeof input === 'string') {
    if (Buffer.byteLength(input, 'utf8') > MAX_POLICY_BYTES) malformed(`The key policy exceeds ${MAX_POLICY_BYTES} bytes.`);
    try {
      raw = parseStrictJson(input);
    } catch (e) {
      malformed(`The key policy is not valid JSON: ${(e as Error).message}`);
    }
  }
  try {
    return parseModelPolicy(raw);
  } catch (e) {
    if (isPolicyError(e)) malformed(e.message);
    throw e;
  }
}

function isParsed(policy: unknown): policy is KeyPolicy {
  return typeof policy === 'object' && policy !== null && Array.isArray((policy as { statements?: unknown }).statements);
}

/** Evaluate a key policy (parsed, JSON text or a JSON value) for one request. */
export function evaluateKeyPolicy(policy: KeyPolicy | string | Record<string, unknown>, request: PolicyRequest): PolicyDecision {
  const parsed = isParsed(policy) ? policy : parseKeyPolicy(policy);
  const result = evaluate(parsed, {
    caller: callerFromArn(request.principalArn, request.roleArn),
    action: request.action,
    resource: request.resource,
    context: contextOf(request.context),
    externalAllow: true,
  });
  const matched = result.matched.map((s) => s.sid ?? `Statement[${s.index}]`);
  const decision = result.decision === 'explicit-deny' ? 'deny' : result.decision;
  return { decision, matched };
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
