import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseBuildManifest, type BuildManifest } from '../verifier/build-manifest.ts';
import { ADMIN_SID, generateDocumentedKeyPolicy, generateKeyPolicy, type GenerateKeyPolicyInput } from './generate.ts';
import { CRYPTO_ACTIONS } from './kms-actions.ts';
import { isPolicyError } from './errors.ts';
import type { PolicyStatement } from './types.ts';

const manifest = parseBuildManifest(readFileSync(new URL('./fixtures/manifest.json', import.meta.url)));
const ROLE = 'arn:aws:iam::111122223333:role/enclave';
const ADMIN = 'arn:aws:iam::111122223333:role/admin';
const READER = 'arn:aws:iam::111122223333:role/runtime';
const EDITOR = 'arn:aws:iam::111122223333:user/alice';

function input(over: Partial<GenerateKeyPolicyInput> = {}): GenerateKeyPolicyInput {
  return { key: 'sops', manifest, enclaveRoleArn: ROLE, adminArns: [ADMIN], readerArns: [READER], editorArns: [EDITOR], ...over };
}

function sid(statements: PolicyStatement[], name: string): PolicyStatement {
  const s = statements.find((x) => x.Sid === name);
  if (s === undefined) throw new Error(`no statement ${name}`);
  return s;
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isPolicyError(e)) return e.code;
    throw e;
  }
  throw new Error('expected a PolicyError');
}

describe('generateKeyPolicy', () => {
  it('sops: attested Decrypt for the role, pinned to the manifest PCRs in lowercase', () => {
    const p = generateKeyPolicy(input());
    const allow = sid(p.Statement, 'EnclaveDecryptsSopsDataKeysOnlyWhenAttested');
    expect(allow.Principal).toEqual({ AWS: ROLE });
    expect(allow.Action).toBe('kms:Decrypt');
    expect(allow.Condition).toEqual({
      StringEqualsIgnoreCase: {
        'kms:RecipientAttestation:PCR0': manifest.pcrs['0'],
        'kms:RecipientAttestation:PCR1': manifest.pcrs['1'],
        'kms:RecipientAttestation:PCR2': manifest.pcrs['2'],
      },
    });
  });

  it('sops: one Deny per pinned PCR, for every principal, with a negated case-insensitive compare', () => {
    const p = generateKeyPolicy(input());
    const denies = p.Statement.filter((s) => s.Effect === 'Deny');
    expect(denies.map((d) => d.Sid)).toEqual(['DenyDecryptUnlessAttestedPCR0', 'DenyDecryptUnlessAttestedPCR1', 'DenyDecryptUnlessAttestedPCR2']);
    for (const [i, d] of denies.entries()) {
      expect(d.Principal).toBe('*');
      expect(d.Action).toEqual(['kms:Decrypt', 'kms:ReEncryptFrom']);
      expect(d.Condition).toEqual({ StringNotEqualsIgnoreCase: { [`kms:RecipientAttestation:PCR${i}`]: manifest.pcrs[String(i) as '0'] } });
    }
  });

  it('sops: editors may Encrypt only', () => {
    const p = generateKeyPolicy(input());
    const e = sid(p.Statement, 'EditorsEncryptSopsDataKeys');
    expect(e.Principal).toEqual({ AWS: EDITOR });
    expect(e.Action).toBe('kms:Encrypt');
    expect(e.Condition).toBeUndefined();
    expect(generateKeyPolicy(input({ editorArns: [] })).Statement.some((s) => s.Sid === 'EditorsEncryptSopsDataKeys')).toBe(false);
  });

  it('--pcr3 pins the AWS-documented PCR3 of the role (value from the user guide)', () => {
    const p = generateKeyPolicy(input({ pcr3RoleArn: 'arn:aws:iam::123456789012:role/Webserver' }));
    const allow = sid(p.Statement, 'EnclaveDecryptsSopsDataKeysOnlyWhenAttested');
    const pcr3 = '78fce75db17cd4e0a3fb8dad3ad128ca5e77edbb2b2c7f75329dccd99aa5f6ef4fc1f1a452e315b9e98f9e312e6921e6';
    expect(allow.Condition?.StringEqualsIgnoreCase?.['kms:RecipientAttestation:PCR3']).toBe(pcr3);
    expect(sid(p.Statement, 'DenyDecryptUnlessAttestedPCR3').Condition).toEqual({ StringNotEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR3': pcr3 } });
  });

  it('--pin-pcr8 pins the manifest PCR8', () => {
    const p = generateKeyPolicy(input({ pinPcr8: true }));
    expect(sid(p.Statement, 'EnclaveDecryptsSopsDataKeysOnlyWhenAttested').Condition?.StringEqualsIgnoreCase?.['kms:RecipientAttestation:PCR8']).toBe(manifest.pcrs['8']);
    expect(sid(p.Statement, 'DenyDecryptUnlessAttestedPCR8').Effect).toBe('Deny');
  });

  it('lowercases manifest hex even if a caller hands in uppercase', () => {
    const upper: BuildManifest = { ...manifest, pcrs: { ...manifest.pcrs, '0': manifest.pcrs['0'].toUpperCase() } };
    const p = generateKeyPolicy(input({ manifest: upper }));
    expect(sid(p.Statement, 'DenyDecryptUnlessAttestedPCR0').Condition?.StringNotEqualsIgnoreCase?.['kms:RecipientAttestation:PCR0']).toBe(manifest.pcrs['0']);
  });

  it('envelope: Encrypt for the enclave, Decrypt for readers, no attestation conditions', () => {
    const p = generateKeyPolicy(input({ key: 'envelope' }));
    expect(sid(p.Statement, 'EnclaveWrapsArtifactDataKeys')).toMatchObject({ Principal: { AWS: ROLE }, Action: 'kms:Encrypt' });
    expect(sid(p.Statement, 'RuntimesUnwrapArtifactDataKeys')).toMatchObject({ Principal: { AWS: READER }, Action: ['kms:Decrypt', 'kms:DescribeKey'] });
    expect(JSON.stringify(p)).not.toContain('RecipientAttestation');
  });

  it('signing: Sign (ECDSA_SHA_256 over a digest) for the enclave, GetPublicKey/Verify for readers', () => {
    const p = generateKeyPolicy(input({ key: 'signing', readerArns: [READER, 'arn:aws:iam::111122223333:role/auditor'] }));
    expect(sid(p.Statement, 'EnclaveSignsArtifactDigests')).toMatchObject({
      Principal: { AWS: ROLE },
      Action: 'kms:Sign',
      Condition: { StringEquals: { 'kms:SigningAlgorithm': 'ECDSA_SHA_256', 'kms:MessageType': 'DIGEST' } },
    });
    expect(sid(p.Statement, 'VerifiersReadPublicKey').Principal).toEqual({ AWS: [READER, 'arn:aws:iam::111122223333:role/auditor'] });
  });

  it('admin statement never grants a cryptographic action or CreateGrant, for every key kind', () => {
    for (const key of ['sops', 'envelope', 'signing'] as const) {
      const admin = sid(generateKeyPolicy(input({ key })).Statement, ADMIN_SID);
      const actions = admin.Action as string[];
      expect(actions).toContain('kms:PutKeyPolicy');
      expect(actions.filter((a) => CRYPTO_ACTIONS.includes(a) || a.includes('*'))).toEqual([]);
    }
  });

  it('every statement has a unique Sid and a note', () => {
    for (const key of ['sops', 'envelope', 'signing'] as const) {
      const d = generateDocumentedKeyPolicy(input({ key, pcr3RoleArn: ROLE, pinPcr8: true }));
      const sids = d.policy.Statement.map((s) => s.Sid);
      expect(new Set(sids).size).toBe(sids.length);
      for (const s of sids) expect(d.notes[s]?.length ?? 0).toBeGreaterThan(40);
    }
  });

  it('is pure: same input, same output, input untouched', () => {
    const i = input({ pcr3RoleArn: ROLE, pinPcr8: true });
    const before = JSON.stringify(i);
    expect(generateKeyPolicy(i)).toEqual(generateKeyPolicy(i));
    expect(JSON.stringify(i)).toBe(before);
  });
});

describe('generateKeyPolicy refusals', () => {
  it('refuses a non-role enclave principal', () => {
    expect(refusal(() => generateKeyPolicy(input({ enclaveRoleArn: 'arn:aws:iam::111122223333:user/bob' })))).toBe('INVALID_ARN');
    expect(refusal(() => generateKeyPolicy(input({ enclaveRoleArn: 'enclave' })))).toBe('INVALID_ARN');
  });

  it('refuses STS session ARNs and junk as principals', () => {
    expect(refusal(() => generateKeyPolicy(input({ adminArns: ['arn:aws:sts::111122223333:assumed-role/admin/s'] })))).toBe('INVALID_ARN');
    expect(refusal(() => generateKeyPolicy(input({ readerArns: ['*'] })))).toBe('INVALID_ARN');
  });

  it('refuses a bad PCR3 role', () => {
    expect(refusal(() => generateKeyPolicy(input({ pcr3RoleArn: 'arn:aws:iam::1:role/x' })))).toBe('INVALID_ARN');
  });

  it('refuses no admin, or the enclave role as admin', () => {
    expect(refusal(() => generateKeyPolicy(input({ adminArns: [] })))).toBe('INVALID_INPUT');
    expect(refusal(() => generateKeyPolicy(input({ adminArns: [ROLE] })))).toBe('INVALID_INPUT');
  });

  it('refuses the enclave role as an envelope reader', () => {
    expect(refusal(() => generateKeyPolicy(input({ key: 'envelope', readerArns: [ROLE] })))).toBe('INVALID_INPUT');
  });

  it('refuses debug (all-zero) PCRs and PCR8 pinning without a signed EIF', () => {
    const debug: BuildManifest = { ...manifest, pcrs: { ...manifest.pcrs, '1': '0'.repeat(96) } };
    expect(refusal(() => generateKeyPolicy(input({ manifest: debug })))).toBe('DEBUG_PCRS');
    const unsigned: BuildManifest = { ...manifest, pcrs: { '0': manifest.pcrs['0'], '1': manifest.pcrs['1'], '2': manifest.pcrs['2'] } };
    expect(refusal(() => generateKeyPolicy(input({ manifest: unsigned, pinPcr8: true })))).toBe('INVALID_INPUT');
  });
});
