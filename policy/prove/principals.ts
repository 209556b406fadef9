// The principal classes lint evaluates a policy for: every principal the policy names (a
// role through one of its sessions), and for every account it names or the enclave role's
// account, the root user, an unnamed user, an unnamed role's session and a federated user;
// another account; every named service and an unnamed one; every named federated provider
// and an unnamed one. Two callers the policy cannot tell apart behave alike, so one of each
// kind stands for all of its kind.
import { accountOf, callerFromArn, principalArnOf, type Caller, type ModelPolicy } from '../model/index.ts';

export interface PrincipalClass {
  caller: Caller;
  /** What this caller stands for, for a counterexample. */
  label: string;
  /** Condition keys AWS sets from the principal (lowercase). */
  keys: ReadonlyMap<string, readonly string[]>;
}

const OUTSIDER_ACCOUNTS = ['999999999999', '999999999998'];

function principalKeys(caller: Caller): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const arn = principalArnOf(caller);
  const account = accountOf(caller);
  if (arn !== undefined) out.set('aws:principalarn', [arn]);
  if (account !== undefined) {
    out.set('aws:principalaccount', [account]);
    out.set('kms:calleraccount', [account]);
  }
  const type = { user: 'User', root: 'Account', 'role-session': 'AssumedRole', 'federated-user': 'FederatedUser', service: undefined, federated: 'WebIdentityUser' }[caller.kind];
  if (type !== undefined) out.set('aws:principaltype', [type]);
  if (caller.kind === 'user') out.set('aws:username', [caller.arn.slice(caller.arn.lastIndexOf('/') + 1)]);
  if (caller.kind === 'service') {
    out.set('aws:principalisawsservice', ['true']);
    out.set('aws:principalservicename', [caller.service]);
  } else out.set('aws:principalisawsservice', ['false']);
  return out;
}

function sessionOf(roleArn: string): Caller {
  const m = /^arn:([^:]+):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn) as RegExpExecArray;
  return callerFromArn(`arn:${m[1]}:sts::${m[2]}:assumed-role/${m[3]}/lint-session`, roleArn);
}

function named(policy: ModelPolicy, enclaveRoleArn: string | undefined): { arns: Set<string>; accounts: Set<string>; services: Set<string>; federated: Set<string> } {
  const arns = new Set<string>(enclaveRoleArn === undefined ? [] : [enclaveRoleArn]);
  const accounts = new Set<string>();
  const services = new Set<string>();
  const federated = new Set<string>();
  for (const st of policy.statements) {
    st.principal.arns.forEach((a) => arns.add(a));
    st.principal.accounts.forEach((a) => accounts.add(a));
    st.principal.services.forEach((s) => services.add(s));
    st.principal.federated.forEach((f) => federated.add(f));
  }
  // Principals that conditions on principal keys single out (aws:PrincipalArn, accounts).
  for (const st of policy.statements) {
    for (const c of st.conditions) {
      const key = c.key.toLowerCase();
      for (const v of c.values) {
        const filled = v.replace(/\*/g, 'lint').replace(/\?/g, 'x');
        if (key === 'aws:principalarn' && /^arn:[^:]+:(iam|sts)::\d{12}:(role|user|assumed-role|federated-user)\/[\w+=,.@/:-]+$/.test(filled)) arns.add(filled);
        if (key === 'aws:principalarn' && /^arn:[^:]+:iam::\d{12}:root$/.test(filled)) accounts.add(filled.split(':')[4] as string);
        if ((key === 'aws:principalaccount' || key === 'kms:calleraccount') && /^\d{12}$/.test(v)) accounts.add(v);
        if (key === 'aws:principalservicename') services.add(v);
      }
    }
  }
  for (const a of arns) accounts.add(/:(\d{12}):/.exec(a)?.[1] as string);
  if (accounts.size === 0) accounts.add('111122223333');
  return { arns, accounts, services, federated };
}

export function principalClasses(policy: ModelPolicy, enclaveRoleArn?: string): PrincipalClass[] {
  const n = named(policy, enclaveRoleArn);
  const out: Array<{ caller: Caller; label: string }> = [];
  for (const arn of n.arns) {
    if (/:assumed-role\/[^/]+$/.test(arn)) continue;
    if (/:role\//.test(arn)) out.push({ caller: sessionOf(arn), label: `a session of ${arn === enclaveRoleArn ? 'the enclave role' : 'the named role'} ${arn}` });
    else {
      out.push({ caller: callerFromArn(arn), label: `the named principal ${arn}` });
      const session = callerFromArn(arn);
      if (session.kind === 'role-session') out.push({ caller: sessionOf(session.roleArn), label: `another session of the role ${session.roleArn}` });
    }
  }
  const outsider = OUTSIDER_ACCOUNTS.find((a) => !n.accounts.has(a)) as string;
  for (const account of [...n.accounts, outsider]) {
    const who = account === outsider ? 'another account' : `account ${account}`;
    out.push({ caller: callerFromArn(`arn:aws:iam::${account}:root`), label: `the root user of ${who}` });
    out.push({ caller: callerFromArn(`arn:aws:iam::${account}:user/lint-any-user`), label: `any other IAM user of ${who}` });
    out.push({ caller: callerFromArn(`arn:aws:sts::${account}:assumed-role/lint-any-role/lint-session`), label: `a session of any other role of ${who}` });
    out.push({ caller: callerFromArn(`arn:aws:sts::${account}:federated-user/lint-any`), label: `a federated user of ${who}` });
  }
  for (const service of [...n.services, 'lint-any-service.amazonaws.com']) out.push({ caller: { kind: 'service', service }, label: `the AWS service ${service}` });
  for (const provider of [...n.federated, 'lint-any-provider.example']) out.push({ caller: { kind: 'federated', provider }, label: `a user of the identity provider ${provider}` });
  return out.map((p) => ({ ...p, keys: principalKeys(p.caller) }));
}

/** Is the caller a session of `roleArn`? */
export function isSessionOf(caller: Caller, roleArn: string | undefined): boolean {
  return roleArn !== undefined && caller.kind === 'role-session' && caller.roleArn === roleArn;
}
