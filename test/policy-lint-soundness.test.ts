// Differential check of the linter against the emulator's IAM evaluator: thousands of
// random mutations of generated sops-key policies and of the known-bad fixtures. Whenever
// the linter reports no error, no un-attested or mis-attested Decrypt may be allowed
// (lint-clean ⇒ not fail-open), and the linter only ever returns findings or a PolicyError.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evaluateKeyPolicy, type PolicyRequest } from '../simulator/kms/policy-eval.ts';
import { KmsError } from '../simulator/kms/errors.ts';
import { parseBuildManifest } from '../verifier/build-manifest.ts';
import { pcr3ForRoleArn } from '../policy/attestation-keys.ts';
import { generateKeyPolicy } from '../policy/generate.ts';
import { hasErrors, lintKeyPolicy } from '../policy/lint.ts';
import { isPolicyError } from '../policy/errors.ts';
import { mulberry32 } from '../simulator/mulberry32.ts';

const ACCOUNT = '111122223333';
const manifest = parseBuildManifest(readFileSync(new URL('../policy/fixtures/manifest.json', import.meta.url)));
const ROLE = `arn:aws:iam::${ACCOUNT}:role/enclave`;
const ADMIN = `arn:aws:iam::${ACCOUNT}:role/admin`;
const OTHER = `arn:aws:iam::${ACCOUNT}:user/ci`;
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const PCR3 = pcr3ForRoleArn(ROLE);
/** Mutation starting points: generated policies and the known-bad fixtures. */
const FIXTURES = readdirSync(new URL('../policy/fixtures/', import.meta.url))
  .filter((f) => f.startsWith('KP'))
  .map((f) => readFileSync(new URL(`../policy/fixtures/${f}`, import.meta.url), 'utf8'));
const GOOD: Record<number, string> = { 0: manifest.pcrs['0'], 1: manifest.pcrs['1'], 2: manifest.pcrs['2'], 3: PCR3, 4: 'a'.repeat(96), 8: manifest.pcrs['8'] as string };
/** Values mutations write into policies, and (different) values the probes present. */
const OTHER_HEX = 'e'.repeat(96);
const WRONG_HEX = 'd'.repeat(96);

const rng = mulberry32;

type Json = Record<string, unknown>;

function pick<T>(r: () => number, list: readonly T[]): T {
  return list[Math.floor(r() * list.length)] as T;
}

const OPERATORS = [
  'StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike', 'StringNotLike',
  'StringEqualsIgnoreCaseIfExists', 'StringNotEqualsIgnoreCaseIfExists', 'ForAllValues:StringEqualsIgnoreCase',
  'ForAnyValue:StringNotEqualsIgnoreCase', 'Null', 'Bool',
];
const KEYS = ['kms:RecipientAttestation:PCR0', 'kms:RecipientAttestation:PCR1', 'kms:RecipientAttestation:PCR4', 'kms:RecipientAttestation:ImageSha384', 'kms:RecipientAttestation:NitroTPMPCR0', 'kms:RecipientAttestation:PCR9'];

function mutate(policy: Json, r: () => number): void {
  const statements = policy.Statement as Json[];
  const st = (): Json => pick(r, statements);
  switch (Math.floor(r() * 13)) {
    case 0:
      if (statements.length > 1) statements.splice(Math.floor(r() * statements.length), 1);
      break;
    case 1: {
      const s = st();
      const c = s.Condition as Record<string, Json> | undefined;
      if (c === undefined || Object.keys(c).length === 0) break;
      const [op, block] = pick(r, Object.entries(c));
      delete c[op];
      const newOp = pick(r, OPERATORS);
      c[newOp] = newOp === 'Null' || newOp === 'Bool' ? Object.fromEntries(Object.keys(block).map((k) => [k, pick(r, ['true', 'false'])])) : block;
      break;
    }
    case 2: {
      const c = st().Condition as Record<string, Json> | undefined;
      if (c === undefined || Object.keys(c).length === 0) break;
      const block = pick(r, Object.values(c));
      if (block === null || typeof block !== 'object' || Object.keys(block).length === 0) break;
      const key = pick(r, Object.keys(block));
      const v = block[key];
      block[key] = pick(r, [typeof v === 'string' ? v.toUpperCase() : v, OTHER_HEX, '0'.repeat(96), String(v).slice(0, 90), [v, OTHER_HEX], `${String(v).slice(0, 10)}*`]);
      break;
    }
    case 3: {
      const c = st().Condition as Record<string, Json> | undefined;
      if (c === undefined || Object.keys(c).length === 0) break;
      const block = pick(r, Object.values(c));
      if (block === null || typeof block !== 'object' || Object.keys(block).length === 0) break;
      const key = pick(r, Object.keys(block));
      const v = block[key];
      delete block[key];
      block[pick(r, KEYS)] = v;
      break;
    }
    case 4: {
      // Merge every Deny's conditions into the first Deny.
      const denies = statements.filter((s) => s.Effect === 'Deny');
      const first = denies[0];
      if (first === undefined) break;
      const merged: Record<string, Json> = {};
      for (const d of denies) for (const [op, block] of Object.entries((d.Condition ?? {}) as Record<string, Json>)) merged[op] = { ...(merged[op] ?? {}), ...block };
      first.Condition = merged;
      for (const d of denies.slice(1)) statements.splice(statements.indexOf(d), 1);
      break;
    }
    case 5:
      st().Principal = pick(r, ['*', { AWS: OTHER }, { AWS: `arn:aws:iam::${ACCOUNT}:root` }, { AWS: ROLE }, { AWS: ACCOUNT }]);
      break;
    case 6: {
      const s = st();
      const a = pick(r, ['kms:*', 'kms:Decrypt', ['kms:Encrypt'], 'kms:De*', ['kms:ReEncryptFrom'], '*']);
      if (r() < 0.15) {
        delete s.Action;
        s.NotAction = pick(r, [['kms:Encrypt'], 'kms:Decrypt']);
      } else {
        delete s.NotAction;
        s.Action = a;
      }
      break;
    }
    case 7:
      statements.push({ Sid: `Root${statements.length}`, Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' });
      break;
    case 8:
      statements.push({ Sid: `Plain${statements.length}`, Effect: 'Allow', Principal: { AWS: pick(r, [OTHER, ADMIN, ROLE]) }, Action: pick(r, ['kms:Decrypt', ['kms:Decrypt', 'kms:Encrypt']]), Resource: '*' });
      break;
    case 9: {
      const s = st();
      s.Effect = s.Effect === 'Allow' ? 'Deny' : 'Allow';
      break;
    }
    case 10:
      delete st().Condition;
      break;
    case 11: {
      // Add an extra (non-attestation) condition somewhere.
      const s = st();
      s.Condition = { ...((s.Condition ?? {}) as Json), StringEquals: { ...(((s.Condition as Json | undefined)?.StringEquals ?? {}) as Json), 'kms:EncryptionContext:env': 'prod' } };
      break;
    }
    default: {
      const s = st();
      if (s.Principal !== undefined && r() < 0.5) {
        s.NotPrincipal = s.Principal;
        delete s.Principal;
      }
    }
  }
}

interface Probe {
  name: string;
  request: PolicyRequest;
}

function context(pcrs: Record<number, string> | null): PolicyRequest['context'] {
  if (pcrs === null) return {};
  const out: Record<string, string> = {};
  for (const [i, v] of Object.entries(pcrs)) out[`kms:RecipientAttestation:PCR${i}`] = v;
  out['kms:RecipientAttestation:ImageSha384'] = pcrs[0] as string;
  return out;
}

/** PCR indexes a policy claims to pin: any string comparison of an enclave PCR key. */
function mentionedPcrs(policy: Json): number[] {
  const out = new Set<number>();
  for (const s of policy.Statement as Json[]) {
    for (const [op, block] of Object.entries((s.Condition ?? {}) as Record<string, Json>)) {
      if (!/string/i.test(op)) continue;
      for (const key of Object.keys(block)) {
        const m = /^kms:recipientattestation:(?:pcr(\d+)|(imagesha384))$/i.exec(key);
        if (m !== null) out.add(m[2] !== undefined ? 0 : Number(m[1]));
      }
    }
  }
  return [...out].filter((i) => i <= 15);
}

/**
 * Requests a lint-clean policy must never allow: no Recipient, a debug-mode document, a
 * different image, and a wrong value for every PCR the policy mentions anywhere.
 */
function badProbes(pinned: number[]): Probe[] {
  const enclave = { enclave: `arn:aws:sts::${ACCOUNT}:assumed-role/enclave/i-1` };
  // A policy that pins nothing may legitimately let others Decrypt (like the envelope key's
  // readers); the enclave role (passed as --role) never without attestation.
  const callers = pinned.length === 0 ? enclave : { ...enclave, admin: `arn:aws:sts::${ACCOUNT}:assumed-role/admin/x`, other: OTHER };
  const docs: Array<[string, Record<number, string> | null]> = [
    ['no Recipient', null],
    ['debug document', { ...GOOD, 0: '0'.repeat(96), 1: '0'.repeat(96), 2: '0'.repeat(96), 8: '0'.repeat(96) }],
    ['another image', { ...GOOD, 0: WRONG_HEX, 1: WRONG_HEX, 2: WRONG_HEX, 8: WRONG_HEX }],
  ];
  for (const i of pinned) docs.push([`wrong PCR${i}`, { ...GOOD, [i]: WRONG_HEX }]);
  const out: Probe[] = [];
  for (const [who, principalArn] of Object.entries(callers)) {
    for (const [what, pcrs] of docs) out.push({ name: `${who} Decrypt with ${what}`, request: { action: 'kms:Decrypt', principalArn, resource: KEY, context: context(pcrs) } });
  }
  return out;
}

describe('linter soundness against the IAM evaluator', () => {
  const variants = [
    { pinned: [0, 1, 2], input: {} },
    { pinned: [0, 1, 2, 3, 8], input: { pcr3RoleArn: ROLE, pinPcr8: true } },
  ];

  it('the unmutated generated policies deny every bad probe and allow the attested enclave', () => {
    for (const v of variants) {
      const policy = generateKeyPolicy({ key: 'sops', manifest, enclaveRoleArn: ROLE, adminArns: [ADMIN], ...v.input });
      for (const p of badProbes(v.pinned)) expect(evaluateKeyPolicy(policy as unknown as Json, p.request).decision, p.name).not.toBe('allow');
      const good = { action: 'kms:Decrypt', principalArn: `arn:aws:sts::${ACCOUNT}:assumed-role/enclave/i-1`, resource: KEY, context: context(GOOD) };
      expect(evaluateKeyPolicy(policy as unknown as Json, good).decision).toBe('allow');
    }
  });

  it('lint-clean mutations are never fail-open (4000 seeded cases)', () => {
    let clean = 0;
    let flagged = 0;
    let malformed = 0;
    for (let n = 0; n < 4000; n++) {
      const r = rng(n + 1);
      const v = variants[Math.floor(n / 2) % variants.length]!;
      const base = n % 2 === 0 ? (FIXTURES[(n / 2) % FIXTURES.length] as string) : JSON.stringify(generateKeyPolicy({ key: 'sops', manifest, enclaveRoleArn: ROLE, adminArns: [ADMIN], ...v.input }));
      const policy = JSON.parse(base) as Json;
      const rounds = 1 + Math.floor(r() * 3);
      for (let i = 0; i < rounds; i++) mutate(policy, r);
      let findings;
      try {
        findings = lintKeyPolicy(policy, { manifest, enclaveRoleArn: ROLE });
      } catch (e) {
        if (!isPolicyError(e)) throw new Error(`case ${n}: lint threw ${(e as Error).stack}`);
        malformed++;
        continue;
      }
      if (hasErrors(findings)) {
        flagged++;
        continue;
      }
      for (const p of badProbes(mentionedPcrs(policy))) {
        let decision: string;
        try {
          decision = evaluateKeyPolicy(policy, p.request).decision;
        } catch (e) {
          if (e instanceof KmsError) break; // KMS would refuse the policy document itself
          throw e;
        }
        expect(decision, `case ${n}: lint-clean policy allows "${p.name}":\n${JSON.stringify(policy, null, 1)}`).not.toBe('allow');
      }
      clean++;
    }
    // The mutations must exercise both outcomes, or the test proves nothing.
    expect(clean).toBeGreaterThan(100);
    expect(flagged).toBeGreaterThan(500);
    });
});
