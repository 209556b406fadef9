import { describe, expect, it } from 'vitest';
import { KmsError } from './errors.ts';
import { defaultKeyPolicy, evaluateKeyPolicy, parseKeyPolicy, wildcardMatch, type PolicyRequest } from './policy-eval.ts';

const ACCT = '111122223333';
const KEY = `arn:aws:kms:us-east-1:${ACCT}:key/11111111-2222-4333-8444-555555555555`;
const USER = `arn:aws:iam::${ACCT}:user/alice`;
const SESSION = `arn:aws:sts::${ACCT}:assumed-role/enclave/i-0abc`;

const req = (over: Partial<PolicyRequest> = {}): PolicyRequest => ({ action: 'kms:Decrypt', principalArn: USER, resource: KEY, context: {}, ...over });
const policy = (...Statement: object[]) => ({ Version: '2012-10-17', Statement });
const allow = (extra: object = {}) => ({ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*', ...extra });
const deny = (extra: object = {}) => ({ Effect: 'Deny', Principal: '*', Action: 'kms:*', Resource: '*', ...extra });
const decide = (p: object, r: PolicyRequest = req()) => evaluateKeyPolicy(p as Record<string, unknown>, r).decision;

describe('decisions', () => {
  it('explicit Deny wins over Allow; no match is an implicit deny', () => {
    expect(decide(policy(allow()))).toBe('allow');
    expect(decide(policy(allow(), deny()))).toBe('deny');
    expect(decide(policy(allow({ Action: 'kms:Encrypt' })))).toBe('implicit-deny');
    const d = evaluateKeyPolicy(policy({ ...allow(), Sid: 'A' }, { ...deny(), Sid: 'D' }) as Record<string, unknown>, req());
    expect(d.matched).toEqual(['D', 'A']);
  });

  it('the AWS default policy lets the account in, not other accounts', () => {
    const p = defaultKeyPolicy(ACCT);
    expect(evaluateKeyPolicy(p, req()).decision).toBe('allow');
    expect(evaluateKeyPolicy(p, req({ principalArn: SESSION })).decision).toBe('allow');
    expect(evaluateKeyPolicy(p, req({ principalArn: 'arn:aws:iam::999988887777:user/eve' })).decision).toBe('implicit-deny');
  });
});

describe('principals', () => {
  it('exact ARNs, account ids, role ARNs matching their STS sessions, NotPrincipal', () => {
    expect(decide(policy(allow({ Principal: { AWS: USER } })))).toBe('allow');
    expect(decide(policy(allow({ Principal: { AWS: [`arn:aws:iam::${ACCT}:user/bob`] } })))).toBe('implicit-deny');
    expect(decide(policy(allow({ Principal: { AWS: ACCT } })))).toBe('allow');
    expect(decide(policy(allow({ Principal: { AWS: `arn:aws:iam::${ACCT}:role/enclave` } })), req({ principalArn: SESSION }))).toBe('allow');
    expect(decide(policy(allow({ Principal: { AWS: `arn:aws:iam::${ACCT}:role/other` } })), req({ principalArn: SESSION }))).toBe('implicit-deny');
    expect(decide(policy(allow({ Principal: { AWS: '*' } })))).toBe('allow');
    expect(decide(policy(allow({ Principal: { Service: 'ec2.amazonaws.com' } })))).toBe('implicit-deny');
  });

  it('NotPrincipal only with Deny, and it exempts a caller only when its account, role and session are all listed (IAM)', () => {
    const notP = (...arns: string[]) => policy(allow(), { Effect: 'Deny', NotPrincipal: { AWS: arns }, Action: 'kms:*', Resource: '*' });
    const ROOT = `arn:aws:iam::${ACCT}:root`;
    const ROLE = `arn:aws:iam::${ACCT}:role/enclave`;
    expect(decide(notP(USER, ROOT))).toBe('allow');
    // Without the account the Deny applies to the whole account, the named user included.
    expect(decide(notP(USER))).toBe('deny');
    expect(decide(notP(USER, ROOT), req({ principalArn: SESSION }))).toBe('deny');
    // The role ARN alone does not exempt its sessions: the session must be named too.
    expect(decide(notP(ROLE, ROOT), req({ principalArn: SESSION }))).toBe('deny');
    expect(decide(notP(ROLE, ROOT, SESSION), req({ principalArn: SESSION }))).toBe('allow');
    expect(() => parseKeyPolicy(policy({ Effect: 'Allow', NotPrincipal: { AWS: USER }, Action: 'kms:*', Resource: '*' }))).toThrow(/NotPrincipal with Allow/);
  });

  it('a role with a path matches its sessions when the caller says which role it is', () => {
    const pathRole = `arn:aws:iam::${ACCT}:role/team/enclave`;
    expect(decide(policy(allow({ Principal: { AWS: pathRole } })), req({ principalArn: SESSION, roleArn: pathRole }))).toBe('allow');
    expect(decide(policy(allow({ Principal: { AWS: pathRole } })), req({ principalArn: SESSION }))).toBe('implicit-deny');
  });
});

describe('actions and resources', () => {
  it('wildcards, case-insensitive actions, NotAction, Resource / NotResource', () => {
    expect(decide(policy(allow({ Action: 'kms:Dec*' })))).toBe('allow');
    expect(decide(policy(allow({ Action: 'KMS:decrypt' })))).toBe('allow');
    expect(decide(policy(allow({ Action: 'kms:Gen?rateDataKey' })), req({ action: 'kms:GenerateDataKey' }))).toBe('allow');
    expect(decide(policy(allow({ Action: ['kms:Encrypt', 'kms:Sign'] })))).toBe('implicit-deny');
    expect(decide(policy(allow({ Action: undefined, NotAction: 'kms:Decrypt' })))).toBe('implicit-deny');
    expect(decide(policy(allow({ Action: undefined, NotAction: 'kms:Encrypt' })))).toBe('allow');
    expect(decide(policy(allow({ Resource: KEY })))).toBe('allow');
    expect(decide(policy(allow({ Resource: `arn:aws:kms:us-east-1:${ACCT}:key/*` })))).toBe('allow');
    expect(decide(policy(allow({ Resource: `arn:aws:kms:eu-west-1:${ACCT}:key/*` })))).toBe('implicit-deny');
    expect(decide(policy(allow({ Resource: undefined, NotResource: KEY })))).toBe('implicit-deny');
  });

  it('wildcardMatch handles backtracking', () => {
    expect(wildcardMatch('a*b*c', 'axxbyybzc')).toBe(true);
    expect(wildcardMatch('a*b*c', 'axxbyyc')).toBe(true);
    expect(wildcardMatch('a*b*c', 'axxcyy')).toBe(false);
    expect(wildcardMatch('*', '')).toBe(true);
    expect(wildcardMatch('?', '')).toBe(false);
  });
});

describe('conditions', () => {
  const PCR0 = 'ab'.repeat(48);
  const attested = { 'kms:RecipientAttestation:PCR0': PCR0, 'kms:RecipientAttestation:ImageSha384': PCR0 };

  it('StringEquals is case-sensitive, StringEqualsIgnoreCase is not; condition key names are case-insensitive', () => {
    expect(decide(policy(allow({ Condition: { StringEquals: { 'kms:RecipientAttestation:PCR0': PCR0.toUpperCase() } } })), req({ context: attested }))).toBe('implicit-deny');
    expect(decide(policy(allow({ Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR0': PCR0.toUpperCase() } } })), req({ context: attested }))).toBe('allow');
    expect(decide(policy(allow({ Condition: { StringEquals: { 'KMS:recipientattestation:imagesha384': PCR0 } } })), req({ context: attested }))).toBe('allow');
  });

  it('positive operators are false when the key is absent; negated ones are true (why Deny templates work)', () => {
    expect(decide(policy(allow({ Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR0': PCR0 } } })))).toBe('implicit-deny');
    expect(decide(policy(allow(), deny({ Condition: { StringNotEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR0': PCR0 } } })))).toBe('deny');
    expect(decide(policy(allow(), deny({ Condition: { StringNotEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR0': PCR0 } } })), req({ context: attested }))).toBe('allow');
    expect(decide(policy(allow(), deny({ Condition: { StringNotEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR0': PCR0 } } })), req({ context: { 'kms:RecipientAttestation:PCR0': '00'.repeat(48) } }))).toBe('deny');
  });

  it('…IfExists: a missing key makes the condition true', () => {
    expect(decide(policy(allow({ Condition: { StringEqualsIfExists: { 'kms:EncryptionContext:app': 'x' } } })))).toBe('allow');
    expect(decide(policy(allow({ Condition: { StringEqualsIfExists: { 'kms:EncryptionContext:app': 'x' } } })), req({ context: { 'kms:EncryptionContext:app': 'y' } }))).toBe('implicit-deny');
  });

  it('multiple values are ORed; multiple keys and operators are ANDed', () => {
    const ctx = { 'kms:EncryptionContext:env': 'prod', 'kms:CallerAccount': ACCT };
    expect(decide(policy(allow({ Condition: { StringEquals: { 'kms:EncryptionContext:env': ['dev', 'prod'] } } })), req({ context: ctx }))).toBe('allow');
    expect(decide(policy(allow({ Condition: { StringEquals: { 'kms:EncryptionContext:env': 'prod', 'kms:CallerAccount': '000000000000' } } })), req({ context: ctx }))).toBe('implicit-deny');
    expect(decide(policy(allow({ Condition: { StringEquals: { 'kms:EncryptionContext:env': 'prod' }, StringLike: { 'kms:CallerAccount': '1111*' } } })), req({ context: ctx }))).toBe('allow');
    // Negated with several values: true only when the value is none of them.
    expect(decide(policy(allow(), deny({ Condition: { StringNotEquals: { 'kms:EncryptionContext:env': ['dev', 'prod'] } } })), req({ context: ctx }))).toBe('allow');
  });

  it('ArnLike / ArnNotLike compare ARN parts with wildcards', () => {
    const ctx = { 'aws:PrincipalArn': SESSION };
    expect(decide(policy(allow({ Condition: { ArnLike: { 'aws:PrincipalArn': `arn:aws:sts::${ACCT}:assumed-role/enclave/*` } } })), req({ context: ctx }))).toBe('allow');
    expect(decide(policy(allow({ Condition: { ArnLike: { 'aws:PrincipalArn': `arn:aws:sts::*:assumed-role/other/*` } } })), req({ context: ctx }))).toBe('implicit-deny');
    expect(decide(policy(allow(), deny({ Condition: { ArnNotLike: { 'aws:PrincipalArn': `arn:aws:sts::${ACCT}:assumed-role/enclave/*` } } })), req({ context: ctx }))).toBe('allow');
    expect(decide(policy(allow({ Condition: { ArnLike: { 'aws:PrincipalArn': 'not-an-arn' } } })), req({ context: ctx }))).toBe('implicit-deny');
  });

  it('Bool and Null', () => {
    expect(decide(policy(allow({ Condition: { Bool: { 'aws:SecureTransport': 'true' } } })), req({ context: { 'aws:SecureTransport': true } }))).toBe('allow');
    expect(decide(policy(allow({ Condition: { Bool: { 'aws:SecureTransport': false } } })), req({ context: { 'aws:SecureTransport': true } }))).toBe('implicit-deny');
    expect(decide(policy(allow({ Condition: { Null: { 'kms:RecipientAttestation:PCR0': 'true' } } })))).toBe('allow');
    expect(decide(policy(allow({ Condition: { Null: { 'kms:RecipientAttestation:PCR0': 'true' } } })), req({ context: attested }))).toBe('implicit-deny');
    expect(decide(policy(allow({ Condition: { Null: { 'kms:RecipientAttestation:PCR0': 'false' } } })), req({ context: attested }))).toBe('allow');
  });

  it('ForAnyValue / ForAllValues over multi-valued keys', () => {
    const ctx = { 'kms:EncryptionContextKeys': ['app', 'env'] };
    expect(decide(policy(allow({ Condition: { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['app', 'env', 'team'] } } })), req({ context: ctx }))).toBe('allow');
    expect(decide(policy(allow({ Condition: { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['app'] } } })), req({ context: ctx }))).toBe('implicit-deny');
    expect(decide(policy(allow({ Condition: { 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': ['env'] } } })), req({ context: ctx }))).toBe('allow');
    // Empty set: ForAllValues is vacuously true, ForAnyValue false.
    expect(decide(policy(allow({ Condition: { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['app'] } } })))).toBe('allow');
    expect(decide(policy(allow({ Condition: { 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': ['app'] } } })))).toBe('implicit-deny');
  });
});

describe('malformed policies → MalformedPolicyDocumentException', () => {
  const bad: Array<[string, unknown]> = [
    ['not JSON', '{'],
    ['no Statement', { Version: '2012-10-17' }],
    ['bad Effect', policy({ ...allow(), Effect: 'Permit' })],
    ['no Principal', policy({ Effect: 'Allow', Action: 'kms:*', Resource: '*' })],
    ['bad principal', policy(allow({ Principal: { AWS: 'alice' } }))],
    ['unknown principal type', policy(allow({ Principal: { Robot: 'x' } }))],
    ['no Action', policy({ Effect: 'Allow', Principal: '*', Resource: '*' })],
    ['both Action and NotAction', policy(allow({ NotAction: 'kms:Sign' }))],
    ['no Resource', policy({ Effect: 'Allow', Principal: '*', Action: 'kms:*' })],
    ['unknown operator', policy(allow({ Condition: { StringSortOf: { 'kms:CallerAccount': 'x' } } }))],
    ['unknown statement element', policy(allow({ Resources: '*' }))],
    ['NotPrincipal with Allow', policy({ Effect: 'Allow', NotPrincipal: { AWS: USER }, Action: 'kms:*', Resource: '*' })],
    ['wildcard inside a principal ARN', policy(allow({ Principal: { AWS: `arn:aws:iam::${ACCT}:role/*` } }))],
    ['Numeric operator with a non-number', policy(allow({ Condition: { NumericLessThan: { 'kms:ScheduleKeyDeletionPendingWindowInDays': 'seven' } } }))],
    ['bad CIDR', policy(allow({ Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/33' } } }))],
    ['bad date', policy(allow({ Condition: { DateLessThan: { 'aws:CurrentTime': 'tomorrow' } } }))],
    ['duplicate JSON member', `{"Version":"2012-10-17","Version":"2012-10-17","Statement":[]}`],
    ['non-string value', policy(allow({ Condition: { StringEquals: { 'kms:CallerAccount': { a: 1 } } } }))],
    ['bad version', { Version: '2020-01-01', Statement: [allow()] }],
    ['duplicate Sid', policy({ ...allow(), Sid: 'x' }, { ...allow(), Sid: 'x' })],
    ['too large', JSON.stringify(policy(allow({ Sid: 'x'.repeat(33000) })))],
  ];
  for (const [name, p] of bad) {
    it(name, () => {
      let type: string | undefined;
      try {
        parseKeyPolicy(p);
      } catch (e) {
        type = e instanceof KmsError ? e.type : 'other';
      }
      expect(type).toBe('MalformedPolicyDocumentException');
    });
  }
});

describe('operators KMS accepts beyond strings (Date, IpAddress, Binary, Numeric)', () => {
  const c = (op: string, key: string, value: unknown, ctx: PolicyRequest['context']) => decide(policy(allow({ Condition: { [op]: { [key]: value } } })), req({ context: ctx }));
  it('DateLessThan / DateGreaterThanEquals with ISO 8601 and epoch seconds', () => {
    expect(c('DateLessThan', 'aws:CurrentTime', '2030-01-01T00:00:00Z', { 'aws:CurrentTime': '2026-12-05T12:00:00Z' })).toBe('allow');
    expect(c('DateLessThan', 'aws:CurrentTime', '2020-01-01T00:00:00Z', { 'aws:CurrentTime': '2026-12-05T12:00:00Z' })).toBe('implicit-deny');
    expect(c('DateGreaterThanEquals', 'aws:EpochTime', '1700000000', { 'aws:EpochTime': '1800000000' })).toBe('allow');
  });
  it('IpAddress / NotIpAddress with IPv4 and IPv6 CIDRs', () => {
    expect(c('IpAddress', 'aws:SourceIp', '203.0.113.0/24', { 'aws:SourceIp': '203.0.113.9' })).toBe('allow');
    expect(c('IpAddress', 'aws:SourceIp', '203.0.113.0/24', { 'aws:SourceIp': '203.0.114.9' })).toBe('implicit-deny');
    expect(c('IpAddress', 'aws:SourceIp', '2001:db8::/32', { 'aws:SourceIp': '2001:db8:1::5' })).toBe('allow');
    expect(c('NotIpAddress', 'aws:SourceIp', '203.0.113.0/24', {})).toBe('allow');
  });
  it('BinaryEquals compares decoded bytes; NumericLessThanEquals', () => {
    expect(c('BinaryEquals', 'kms:EncryptionContext:blob', 'QUJD', { 'kms:EncryptionContext:blob': 'QUJD' })).toBe('allow');
    expect(c('BinaryEquals', 'kms:EncryptionContext:blob', 'QUJD', { 'kms:EncryptionContext:blob': 'QUJE' })).toBe('implicit-deny');
    expect(c('NumericLessThanEquals', 'kms:ScheduleKeyDeletionPendingWindowInDays', 30, { 'kms:ScheduleKeyDeletionPendingWindowInDays': '7' })).toBe('allow');
  });
});
