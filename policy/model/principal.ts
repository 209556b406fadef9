// Who a Principal / NotPrincipal element covers (IAM "Principal" and "NotPrincipal" pages).
// - A role ARN covers every session of that role; a session ARN covers that session only.
// - An account (id or :root ARN) in an Allow covers the account's root user directly and
//   every other principal of the account only through its IAM policies (KMS: the key
//   policy "delegates" to IAM); in a Deny it covers every principal of the account.
// - "*" and {"AWS":"*"} are equivalent: everyone. A Service or Federated entry covers that
//   service / provider only (a literal "*" there is not a wildcard and covers nobody else).
// - NotPrincipal (Deny only) exempts a caller only when every identity AWS checks for it is
//   listed: its account, then its role, then the session (IAM "Specifying NotPrincipal with Deny").
import { policyFail } from '../errors.ts';
import type { Caller, PrincipalSet } from './types.ts';

const PARTITION = 'aws(?:-cn|-us-gov|-iso|-iso-b|-iso-e|-iso-f|-eusc)?';
const SESSION = new RegExp(`^arn:(${PARTITION}):sts::(\\d{12}):assumed-role/([\\w+=,.@-]+)/[\\w+=,.@:-]+$`);
const FEDERATED_USER = new RegExp(`^arn:${PARTITION}:sts::(\\d{12}):federated-user/[\\w+=,.@-]+$`);
const USER = new RegExp(`^arn:${PARTITION}:iam::(\\d{12}):user(?:/[\\w+=,.@-]+)+$`);
const ROOT = new RegExp(`^arn:${PARTITION}:iam::(\\d{12}):root$`);

/**
 * The caller behind a signing identity's ARN. A session ARN does not carry its role's path
 * (`assumed-role/NAME/…`), so pass `roleArn` when the role has one.
 */
export function callerFromArn(arn: string, roleArn?: string): Caller {
  let m = SESSION.exec(arn);
  if (m !== null) return { kind: 'role-session', arn, account: m[2] as string, roleArn: roleArn ?? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` };
  if ((m = FEDERATED_USER.exec(arn)) !== null) return { kind: 'federated-user', arn, account: m[1] as string };
  if ((m = USER.exec(arn)) !== null) return { kind: 'user', arn, account: m[1] as string };
  if ((m = ROOT.exec(arn)) !== null) return { kind: 'root', arn, account: m[1] as string };
  return policyFail('INVALID_ARN', `"${arn}" is not an IAM user, account root or STS session ARN`);
}

/** aws:PrincipalArn as AWS sets it: the role ARN (with path) for a role session. */
export function principalArnOf(caller: Caller): string | undefined {
  if (caller.kind === 'role-session') return caller.roleArn;
  if (caller.kind === 'service' || caller.kind === 'federated') return undefined;
  return caller.arn;
}

export function accountOf(caller: Caller): string | undefined {
  return caller.kind === 'service' || caller.kind === 'federated' ? undefined : caller.account;
}

/** Does a Principal element apply to the caller? `externalAllow`: the account's IAM policies allow. */
export function principalCovers(set: PrincipalSet, caller: Caller, effect: 'Allow' | 'Deny', externalAllow: boolean): boolean {
  if (set.everyone) return true;
  switch (caller.kind) {
    case 'service':
      return set.services.includes(caller.service);
    case 'federated':
      return set.federated.includes(caller.provider);
    default: {
      if (set.arns.includes(caller.arn)) return true;
      if (caller.kind === 'role-session' && set.arns.includes(caller.roleArn)) return true;
      if (!set.accounts.includes(caller.account)) return false;
      return caller.kind === 'root' || effect === 'Deny' || externalAllow;
    }
  }
}

/** Is the caller exempt from a NotPrincipal Deny (every identity of it listed)? */
export function notPrincipalExempts(set: PrincipalSet, caller: Caller): boolean {
  if (set.everyone) return true;
  switch (caller.kind) {
    case 'service':
      return set.services.includes(caller.service);
    case 'federated':
      return set.federated.includes(caller.provider);
    case 'root':
      return set.accounts.includes(caller.account);
    case 'role-session':
      return set.accounts.includes(caller.account) && set.arns.includes(caller.roleArn) && set.arns.includes(caller.arn);
    default:
      return set.accounts.includes(caller.account) && set.arns.includes(caller.arn);
  }
}
