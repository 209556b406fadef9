// Differential fuzz of `policy lint` against brute-force evaluation by the model: 10,000
// seeded random key policies. For each, lint's verdict on the sops-key property (found by
// searching the request classes it derives from the policy) must agree with evaluating the
// model on a fixed universe of concrete requests that lint never sees — principals, actions,
// attestation documents and condition values chosen here, not derived from the policy:
//  - brute force finds a request that uses the key without the manifest's image ⇒ lint reports KP030;
//  - lint reports a counterexample ⇒ replayed through evaluate() it really is allowed and bad.
// Any disagreement fails and prints the policy (and the seed that rebuilds it).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseBuildManifest } from '../verifier/build-manifest.ts';
import { isPolicyError } from '../policy/errors.ts';
import { callerFromArn, contextOf, evaluate, parseModelPolicy, type Caller, type ModelPolicy, type ModelRequest } from '../policy/model/index.ts';
import { provePolicy } from '../policy/prove/prove.ts';
import { GRANT_OPERATIONS } from '../policy/prove/search.ts';
import { mulberry32 } from '../simulator/mulberry32.ts';

const manifest = parseBuildManifest(readFileSync(new URL('../policy/fixtures/manifest.json', import.meta.url)));
const A = '111122223333';
const B = '444455556666';
const ROLE = `arn:aws:iam::${A}:role/enclave`;
const SESSION = `arn:aws:sts::${A}:assumed-role/enclave/i-1`;
const KEY = `arn:aws:kms:us-east-1:${A}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const GOOD = [manifest.pcrs['0'], manifest.pcrs['1'], manifest.pcrs['2']].map((v) => v.toLowerCase());
const ZERO = '0'.repeat(96);
const WRONG = 'e'.repeat(96);
const POLICIES = 10_000;

const rng = mulberry32;
const pick = <T>(r: () => number, list: readonly T[]): T => list[Math.floor(r() * list.length)] as T;

const PRINCIPALS: unknown[] = ['*', { AWS: '*' }, { AWS: ROLE }, { AWS: A }, { AWS: `arn:aws:iam::${A}:root` }, { AWS: `arn:aws:iam::${A}:user/ci` }, { AWS: `arn:aws:iam::${B}:root` }, { Service: '*' }, { Service: 'logs.amazonaws.com' }, { AWS: SESSION }, { AWS: [ROLE, `arn:aws:iam::${A}:user/ci`] }];
const NOT_PRINCIPALS: unknown[] = [{ AWS: [ROLE, A, SESSION] }, { AWS: ROLE }, { AWS: [ROLE, A] }, { AWS: [`arn:aws:iam::${A}:user/ci`, A] }];
const ACTIONS: unknown[] = ['kms:*', 'kms:Decrypt', 'kms:De*', ['kms:Encrypt', 'kms:Decrypt'], 'kms:GenerateDataKey*', '*', 'kms:ReEncrypt*', 'KMS:decrypt', 'kms:CreateGrant', ['kms:Encrypt']];
const RESOURCES: unknown[] = ['*', '*', KEY, `arn:aws:kms:us-east-1:${A}:alias/sops`, 'arn:aws:kms:*:*:key/*', `arn:aws:kms:eu-west-1:${A}:key/*`];
const OPERATORS = ['StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringEquals', 'StringNotEquals', 'StringLike', 'StringNotLike', 'StringEqualsIgnoreCaseIfExists', 'StringNotEqualsIgnoreCaseIfExists', 'ForAnyValue:StringEqualsIgnoreCase', 'ForAllValues:StringNotEqualsIgnoreCase', 'Null'];
const ATTESTATION_KEYS = ['kms:RecipientAttestation:PCR0', 'kms:RecipientAttestation:PCR1', 'kms:RecipientAttestation:ImageSha384', 'KMS:recipientattestation:pcr2'];
const ATTESTATION_VALUES: unknown[] = [GOOD[0], GOOD[1], GOOD[2], GOOD[0]?.toUpperCase(), ZERO, WRONG, [GOOD[0], WRONG], `${GOOD[0]?.slice(0, 10)}*`];

function randomClause(r: () => number): [string, Record<string, unknown>] {
  const kind = r();
  if (kind < 0.7) {
    const op = pick(r, OPERATORS);
    return [op, { [pick(r, ATTESTATION_KEYS)]: op === 'Null' ? pick(r, ['true', 'false']) : pick(r, ATTESTATION_VALUES) }];
  }
  if (kind < 0.8) return [pick(r, ['StringEquals', 'StringNotEquals', 'StringLike']), { 'kms:EncryptionContext:env': pick(r, ['prod', 'p*', ['dev', 'prod']]) }];
  if (kind < 0.88) return [pick(r, ['ArnLike', 'ArnNotLike', 'ArnEquals']), { 'aws:PrincipalArn': pick(r, [ROLE, `arn:aws:iam::${A}:role/*`, `arn:aws:sts::${A}:assumed-role/enclave/*`]) }];
  if (kind < 0.94) return [pick(r, ['IpAddress', 'NotIpAddress']), { 'aws:SourceIp': pick(r, ['10.0.0.0/8', '203.0.113.7']) }];
  return [pick(r, ['StringEquals', 'StringNotEquals']), { 'kms:CallerAccount': pick(r, [A, B]) }];
}

function randomStatement(r: () => number, i: number): Record<string, unknown> {
  const effect = r() < 0.5 ? 'Allow' : 'Deny';
  const st: Record<string, unknown> = { Sid: `S${i}`, Effect: effect };
  if (effect === 'Deny' && r() < 0.15) st.NotPrincipal = pick(r, NOT_PRINCIPALS);
  else st.Principal = pick(r, PRINCIPALS);
  if (r() < 0.1) st.NotAction = pick(r, ['kms:Encrypt', ['kms:Decrypt']]);
  else st.Action = pick(r, ACTIONS);
  if (r() < 0.08) st.NotResource = `arn:aws:kms:us-east-1:${A}:alias/sops`;
  else st.Resource = pick(r, RESOURCES);
  const clauses = Math.floor(r() * 3);
  const condition: Record<string, Record<string, unknown>> = {};
  for (let c = 0; c < clauses; c++) {
    const [op, block] = randomClause(r);
    condition[op] = { ...(condition[op] ?? {}), ...block };
  }
  if (clauses > 0) st.Condition = condition;
  return st;
}

function randomPolicy(seed: number): Record<string, unknown> {
  const r = rng(seed);
  const n = 1 + Math.floor(r() * 4);
  return { Version: '2012-10-17', Statement: Array.from({ length: n }, (_, i) => randomStatement(r, i)) };
}

// The brute-force universe: concrete requests chosen here.
const CALLERS: Caller[] = [
  callerFromArn(SESSION),
  callerFromArn(`arn:aws:sts::${A}:assumed-role/enclave/i-other`),
  callerFromArn(`arn:aws:iam::${A}:user/ci`),
  callerFromArn(`arn:aws:iam::${A}:root`),
  callerFromArn(`arn:aws:sts::${A}:assumed-role/ops/x`),
  callerFromArn(`arn:aws:iam::${B}:user/outsider`),
  { kind: 'service', service: 'logs.amazonaws.com' },
  { kind: 'service', service: 'ec2.amazonaws.com' },
];
const GUARDED = ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:ReEncryptFrom'];
const PCR_CHOICES = [0, 1, 2].map((i) => [GOOD[i] as string, WRONG, ZERO]);
const ATTESTATIONS: Array<Map<number, string> | null> = [null];
for (const p0 of PCR_CHOICES[0]!) for (const p1 of PCR_CHOICES[1]!) for (const p2 of PCR_CHOICES[2]!) ATTESTATIONS.push(new Map([[0, p0], [1, p1], [2, p2]]));
const EXTRAS: Array<Record<string, string>> = [{}, { 'kms:EncryptionContext:env': 'prod', 'aws:SourceIp': '10.1.2.3' }, { 'kms:EncryptionContext:env': 'PX', 'aws:SourceIp': '198.51.100.1' }];

function principalKeys(c: Caller): Record<string, string> {
  if (c.kind === 'service') return {};
  if (c.kind === 'federated') return {};
  return { 'aws:PrincipalArn': c.kind === 'role-session' ? c.roleArn : c.arn, 'kms:CallerAccount': c.account };
}

function request(caller: Caller, action: string, att: Map<number, string> | null, extra: Record<string, string>): ModelRequest {
  const ctx: Record<string, string> = { ...principalKeys(caller), ...extra };
  if (att !== null) {
    for (const [i, v] of att) ctx[`kms:RecipientAttestation:PCR${i}`] = v;
    ctx['kms:RecipientAttestation:ImageSha384'] = att.get(0) as string;
  }
  return { caller, action, resource: KEY, context: contextOf(ctx), externalAllow: true };
}

/** The same adversary as lint's: IAM allows everything; a grant when anyone may CreateGrant. */
function bruteForceViolation(policy: ModelPolicy): string | null {
  // Values of keys the policy never names cannot change a decision: skip them when it names none.
  const extras = policy.statements.some((st) => st.conditions.some((c) => !/^kms:recipientattestation:|^aws:principalarn$|^kms:calleraccount$/i.test(c.key))) ? EXTRAS : [{}];
  const universe = extras.length === 1 ? PLAIN_UNIVERSE : FULL_UNIVERSE;
  const grant = universe.grant.some((req) => evaluate(policy, req).decision === 'allow');
  for (const req of universe.guarded) {
    const d = evaluate(policy, req).decision;
    if (d === 'allow' || (d === 'implicit-deny' && grant && GRANT_OPERATIONS.has(req.action))) {
      const c = req.caller;
      return `${c.kind === 'service' ? c.service : c.kind === 'federated' ? c.provider : c.arn} ${req.action} ${[...req.context].map(([k, v]) => `${k}=${v.join(',').slice(0, 8)}`).join(' ')}`;
    }
  }
  return null;
}

/** Every request of the universe, built once: guarded actions without the image, and CreateGrant. */
function universeOf(extras: Array<Record<string, string>>): { guarded: ModelRequest[]; grant: ModelRequest[] } {
  const guarded: ModelRequest[] = [];
  const grant: ModelRequest[] = [];
  for (const caller of CALLERS) {
    for (const extra of extras) {
      grant.push(request(caller, 'kms:CreateGrant', null, extra));
      for (const action of GUARDED) {
        for (const att of action === 'kms:ReEncryptFrom' ? [null] : ATTESTATIONS) {
          if (att === null || att.get(0) !== GOOD[0]) guarded.push(request(caller, action, att, extra));
        }
      }
    }
  }
  return { guarded, grant };
}
const FULL_UNIVERSE = universeOf(EXTRAS);
const PLAIN_UNIVERSE = universeOf([{}]);

const CHUNKS = 4;
const totals = { violating: 0, clean: 0 };

describe('differential fuzz: lint verdict = brute-force evaluation by the model', () => {
  // Four chunks of 2,500 so that a loaded machine reports progress (and no one chunk times out).
  for (let chunk = 0; chunk < CHUNKS; chunk++) {
    const first = 1 + (chunk * POLICIES) / CHUNKS;
    const last = ((chunk + 1) * POLICIES) / CHUNKS;
    it(`seeds ${first}–${last} agree`, () => checkSeeds(first, last), 120_000);
  }

  it(`${POLICIES} policies ran and the generator exercised both verdicts`, () => {
    expect(totals.violating + totals.clean).toBe(POLICIES);
    // The generator must exercise both outcomes, or agreement proves little.
    expect(totals.violating).toBeGreaterThan(1000);
    expect(totals.clean).toBeGreaterThan(1000);
  });
});

function checkSeeds(first: number, last: number): void {
    let violating = 0;
    let clean = 0;
    for (let seed = first; seed <= last; seed++) {
      const raw = randomPolicy(seed);
      let model: ModelPolicy;
      let lintViolation;
      try {
        model = parseModelPolicy(raw);
        lintViolation = provePolicy(raw, { kind: 'sops', manifest }).find((v) => v.property.id === 'sops-attested-use');
      } catch (e) {
        if (!isPolicyError(e)) throw e;
        throw new Error(`lint refused a policy the generator meant to be valid: ${(e as Error).message}; seed ${seed}: ${JSON.stringify(raw)}`);
      }
      const brute = bruteForceViolation(model);
      const show = `seed ${seed}: ${JSON.stringify(raw)}`;
      if (brute !== null) expect(lintViolation, `brute force found "${brute}" but lint says clean; ${show}`).toBeDefined();
      if (lintViolation !== undefined) {
        const c = lintViolation.counterexample;
        const d = evaluate(model, c.request);
        expect(c.viaGrant ? d.decision === 'implicit-deny' : d.decision === 'allow', `lint's counterexample is not allowed by evaluate(); ${show}`).toBe(true);
        expect(c.request.context.get('kms:recipientattestation:pcr0')?.[0], `lint's counterexample carries the image; ${show}`).not.toBe(GOOD[0]);
        violating++;
      } else clean++;
    }
    totals.violating += violating;
    totals.clean += clean;
}
