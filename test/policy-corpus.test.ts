// The key-policy corpus (policy/fixtures/corpus/: AWS documentation shapes and public
// Terraform/CDK shapes, sources in its README): each entry gets its expected verdict, every
// mutation of it gets the verdict the mutation implies (same, or no better), and for a
// sample the verdict is what the KMS emulator does with signed SDK requests.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { KmsPrincipal } from '../simulator/kms/server.ts';
import { parseBuildManifest } from '../verifier/build-manifest.ts';
import { isPolicyError } from '../policy/errors.ts';
import { provePolicy, type Violation } from '../policy/prove/prove.ts';
import { CORPUS, type CorpusEntry } from '../policy/fixtures/corpus/corpus.ts';
import { rejection, startHarness, type Harness } from './kms-harness.ts';

const manifest = parseBuildManifest(readFileSync(new URL('../policy/fixtures/manifest.json', import.meta.url)));
const ACCOUNT = '111122223333';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/enclave`;
type Json = Record<string, unknown>;

function prove(e: CorpusEntry, policy: Json): Violation[] {
  return provePolicy(policy, { kind: e.kind, ...(e.manifest ? { manifest } : {}), ...(e.role ? { enclaveRoleArn: ROLE } : {}) });
}

function verdict(e: CorpusEntry, policy: Json): string[] | string {
  try {
    return prove(e, policy).map((v) => v.property.id).sort();
  } catch (e2) {
    if (isPolicyError(e2)) return e2.code;
    throw e2;
  }
}

const statementsOf = (p: Json): Json[] => (Array.isArray(p.Statement) ? p.Statement : [p.Statement]) as Json[];
const withStatements = (p: Json, f: (s: Json) => Json): Json => ({ ...p, Statement: statementsOf(p).map((s) => f(structuredClone(s))) });

function mapConditions(s: Json, f: (op: string, key: string, v: unknown) => [string, string, unknown]): Json {
  if (s.Condition === undefined) return s;
  const out: Record<string, Json> = {};
  for (const [op, block] of Object.entries(s.Condition as Record<string, Json>)) {
    for (const [key, v] of Object.entries(block)) {
      const [op2, key2, v2] = f(op, key, v);
      out[op2] = { ...(out[op2] ?? {}), [key2]: v2 };
    }
  }
  return { ...s, Condition: out };
}

const KEY_ARN = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
/** Mutations that must not change the verdict. */
const SAME: Array<[string, (p: Json) => Json]> = [
  ['statement order reversed', (p) => ({ ...p, Statement: [...statementsOf(p)].reverse() })],
  ['condition keys in upper case', (p) => withStatements(p, (s) => mapConditions(s, (op, k, v) => [op, k.toUpperCase(), v]))],
  ['Resource "*" written as the key ARN', (p) => withStatements(p, (s) => (s.Resource === '*' ? { ...s, Resource: KEY_ARN } : s))],
  ['negated operators in a Deny with IfExists', (p) => withStatements(p, (s) => (s.Effect === 'Deny' ? mapConditions(s, (op, k, v) => [/^StringNot/.test(op) && !/IfExists$/.test(op) ? `${op}IfExists` : op, k, v]) : s))],
];
/** Mutations that can only let more requests through: the verdict must be no better. */
const WORSE: Array<[string, (p: Json) => Json]> = [
  ['Deny scoped to an alias ARN', (p) => withStatements(p, (s) => (s.Effect === 'Deny' ? { ...s, NotResource: undefined, Resource: `arn:aws:kms:us-east-1:${ACCOUNT}:alias/sops` } : s))],
  ['Deny principal type changed to Service', (p) => withStatements(p, (s) => (s.Effect === 'Deny' && s.Principal === '*' ? { ...s, Principal: { Service: '*' } } : s))],
  ['positive operators in an Allow with IfExists', (p) => withStatements(p, (s) => (s.Effect === 'Allow' ? mapConditions(s, (op, k, v) => [/^String(Equals|Like)/.test(op) && !/IfExists$/.test(op) ? `${op}IfExists` : op, k, v]) : s))],
];

describe('key-policy corpus: expected verdicts', () => {
  it('has at least 40 entries with unique ids', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(40);
    expect(new Set(CORPUS.map((e) => e.id)).size).toBe(CORPUS.length);
  });
  for (const e of CORPUS) {
    it(`${e.id}: ${JSON.stringify(e.expect)}`, () => {
      expect(verdict(e, e.policy)).toEqual(e.expect);
    });
  }
});

describe('key-policy corpus: mutations', () => {
  for (const e of CORPUS.filter((x) => Array.isArray(x.expect))) {
    it(`${e.id}: verdict-preserving mutations keep it; weakening ones never improve it`, () => {
      const base = verdict(e, e.policy) as string[];
      for (const [name, m] of SAME) expect(verdict(e, m(e.policy)), `${e.id}: ${name}`).toEqual(base);
      for (const [name, m] of WORSE) {
        const v = verdict(e, m(e.policy));
        expect(Array.isArray(v), `${e.id}: ${name} refused: ${String(v)}`).toBe(true);
        for (const id of base) expect(v, `${e.id}: ${name}`).toContain(id);
      }
    });
  }
});

describe('key-policy corpus: lint verdicts match the KMS emulator (sample)', () => {
  const WRITER: KmsPrincipal = { accessKeyId: 'AKIACORPUSWRITER0001', secretAccessKey: 'corpus-writer-secret-for-tests-only-00000', principalArn: `arn:aws:iam::${ACCOUNT}:user/corpus-writer` };
  const ENCLAVE: KmsPrincipal = { accessKeyId: 'AKIACORPUSENCLAVE001', secretAccessKey: 'corpus-enclave-secret-for-tests-only-0000', principalArn: `arn:aws:sts::${ACCOUNT}:assumed-role/enclave/i-0corpus` };
  const ADMIN: KmsPrincipal = { accessKeyId: 'AKIACORPUSADMIN00001', secretAccessKey: 'corpus-admin-secret-for-tests-only-000000', principalArn: `arn:aws:iam::${ACCOUNT}:root` };
  // Fail-open entries whose counterexample is a Decrypt without Recipient by an IAM/STS principal.
  const open = CORPUS.filter((e) => e.kind === 'sops' && Array.isArray(e.expect) && e.expect.includes('sops-attested-use')).flatMap((e) => {
    const c = prove(e, e.policy).find((v) => v.property.id === 'sops-attested-use')?.counterexample;
    return c !== undefined && c.action === 'kms:Decrypt' && /no Recipient/.test(c.attestation) && /^arn:aws:(iam|sts)::\d{12}:/.test(c.callerArn) && !c.viaGrant && Object.keys(c.conditions).length === 0 ? [{ e, c }] : [];
  });
  const callers = new Map<string, KmsPrincipal>();
  for (const { c } of open) {
    if (!callers.has(c.callerArn)) {
      const n = String(callers.size).padStart(4, '0');
      const roleArn = c.request.caller.kind === 'role-session' ? c.request.caller.roleArn : undefined;
      callers.set(c.callerArn, { accessKeyId: `AKIACORPUSCALLER${n}`, secretAccessKey: `corpus-caller-${n}-secret-for-tests-only-000`, principalArn: c.callerArn, ...(roleArn === undefined ? {} : { roleArn }) });
    }
  }
  let h: Harness;
  let admin: KMSClient;
  beforeAll(async () => {
    h = await startHarness({ accountId: ACCOUNT, principals: [WRITER, ENCLAVE, ADMIN, ...callers.values()] });
    admin = h.client(ADMIN);
  });
  afterAll(async () => h.close());

  async function deploy(p: Json): Promise<Uint8Array> {
    const full = { ...p, Statement: [...statementsOf(p), { Sid: 'CorpusWriterEncrypts', Effect: 'Allow', Principal: { AWS: WRITER.principalArn }, Action: 'kms:Encrypt', Resource: '*' }] };
    const keyId = (await admin.send(new CreateKeyCommand({ Policy: JSON.stringify(full), BypassPolicyLockoutSafetyCheck: true }))).KeyMetadata?.KeyId;
    return (await h.client(WRITER).send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('data key') }))).CiphertextBlob as Uint8Array;
  }

  it('the sample covers several fail-open entries', () => {
    expect(open.length).toBeGreaterThanOrEqual(8);
  });

  for (const { e, c } of open) {
    it(`${e.id}: lint's counterexample (${c.callerArn} Decrypt, no Recipient) decrypts in the emulator`, async () => {
      const blob = await deploy(e.policy);
      const out = await h.client(callers.get(c.callerArn)).send(new DecryptCommand({ CiphertextBlob: blob }));
      expect(Buffer.from(out.Plaintext ?? []).toString()).toBe('data key');
    });
  }

  for (const e of CORPUS.filter((x) => x.kind === 'sops' && Array.isArray(x.expect) && x.expect.length === 0)) {
    it(`${e.id}: proved, and the enclave role's Decrypt without Recipient is refused by the emulator`, async () => {
      const blob = await deploy(e.policy);
      const err = await rejection(h.client(ENCLAVE).send(new DecryptCommand({ CiphertextBlob: blob })));
      expect(err.name).toBe('AccessDeniedException');
    });
  }
});
