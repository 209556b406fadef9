import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseBuildManifest } from '../verifier/build-manifest.ts';
import { hasErrors, lintKeyPolicy } from './lint.ts';
import { LINT_CODES } from './lint-codes.ts';
import { isPolicyError } from './errors.ts';
import { pcr3ForRoleArn } from './attestation-keys.ts';

const manifest = parseBuildManifest(readFileSync(new URL('./fixtures/manifest.json', import.meta.url)));
const ROLE = 'arn:aws:iam::111122223333:role/enclave';
const PCR0 = manifest.pcrs['0'];
const K0 = 'kms:RecipientAttestation:PCR0';

/** The pattern findings (KP001–KP029); the proved properties (KP030–KP032) have their own tests. */
const PROPERTY_CODES = new Set(['KP030', 'KP031', 'KP032']);
function codes(policy: unknown, opts = {}): string[] {
  return lintKeyPolicy(policy, { key: 'sops', ...opts }).map((f) => f.code).filter((c) => !PROPERTY_CODES.has(c));
}

const attestedAllow = {
  Sid: 'Attested',
  Effect: 'Allow',
  Principal: { AWS: ROLE },
  Action: 'kms:Decrypt',
  Resource: '*',
  Condition: { StringEqualsIgnoreCase: { [K0]: PCR0 } },
};
const deny0 = {
  Sid: 'Deny0',
  Effect: 'Deny',
  Principal: '*',
  Action: ['kms:Decrypt', 'kms:ReEncryptFrom'],
  Resource: '*',
  Condition: { StringNotEqualsIgnoreCase: { [K0]: PCR0 } },
};

describe('lintKeyPolicy', () => {
  it('passes a minimal correct attested policy', () => {
    expect(codes({ Version: '2012-10-17', Statement: [attestedAllow, deny0] }, { manifest, enclaveRoleArn: ROLE })).toEqual([]);
  });

  it('accepts ImageSha384 in the Allow backed by a PCR0 Deny (same measurement)', () => {
    const allow = { ...attestedAllow, Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': PCR0 } } };
    expect(codes({ Statement: [allow, deny0] }, { manifest })).toEqual([]);
  });

  it('KP001 when the Deny exempts a value the Allow does not pin', () => {
    const other = manifest.pcrs['1'];
    const deny = { ...deny0, Condition: { StringNotEqualsIgnoreCase: { [K0]: [PCR0, other] } } };
    expect(codes({ Statement: [attestedAllow, deny] })).toEqual(['KP001']);
  });

  it('KP024 (not KP001) when the Deny has an extra non-attestation condition that can switch it off', () => {
    const deny = { ...deny0, Condition: { ...deny0.Condition, StringEquals: { 'kms:EncryptionContext:env': 'prod' } } };
    expect(codes({ Statement: [attestedAllow, deny] })).toEqual(['KP024']);
  });

  it('flawed attestation Deny statements are reported even without an attested Allow', () => {
    const plainAllow = { Sid: 'Plain', Effect: 'Allow', Principal: { AWS: ROLE }, Action: 'kms:Decrypt', Resource: '*' };
    expect(codes({ Statement: [plainAllow, deny0] })).toEqual([]);
    expect(codes({ Statement: [plainAllow, { ...deny0, Principal: { AWS: ROLE } }] })).toEqual(['KP017']);
    const extra = { ...deny0, Condition: { ...deny0.Condition, Bool: { 'aws:SecureTransport': 'true' } } };
    expect(codes({ Statement: [plainAllow, extra] })).toEqual(['KP024']);
  });

  it('KP001 names only the actions the Deny does not cover', () => {
    const allow = { ...attestedAllow, Action: ['kms:Decrypt', 'kms:GenerateDataKey'] };
    const f = lintKeyPolicy({ Statement: [allow, deny0] }).filter((f) => !PROPERTY_CODES.has(f.code));
    expect(f.map((x) => x.code)).toEqual(['KP001']);
    expect(f[0]?.message).toContain('kms:GenerateDataKey');
    expect(f[0]?.message).not.toContain('kms:Decrypt,');
  });

  it('KP009 for kms:* given to the enclave role (with --role), KP022 otherwise', () => {
    const st = { Sid: 'All', Effect: 'Allow', Principal: { AWS: ROLE }, Action: 'kms:*', Resource: '*' };
    expect(codes({ Statement: [st] }, { enclaveRoleArn: ROLE })).toEqual(['KP009']);
    expect(codes({ Statement: [st] })).toEqual(['KP022']);
    expect(codes({ Statement: [{ ...st, Action: '*' }] })).toEqual(['KP022']);
  });

  it('KP018 for a plain Decrypt allow next to an attested one, unless a Deny stops it', () => {
    const plain = { Sid: 'Plain', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:role/ops' }, Action: 'kms:Decrypt', Resource: '*' };
    expect(codes({ Statement: [attestedAllow, plain, deny0] })).toEqual([]);
    const denyDecryptOnly = { ...deny0, Action: 'kms:Decrypt' };
    expect(codes({ Statement: [attestedAllow, plain, denyDecryptOnly] })).toEqual([]);
    expect(codes({ Statement: [attestedAllow, plain] })).toEqual(['KP001', 'KP018']);
  });

  it('KP006: Null=true in an Allow, Null=false in a Deny; Null=true in a Deny is fine', () => {
    const nullTrueAllow = { ...attestedAllow, Condition: { Null: { [K0]: 'true' } } };
    expect(codes({ Statement: [nullTrueAllow] })).toEqual(['KP006']);
    const nullFalseDeny = { ...deny0, Sid: 'DenyPresent', Condition: { Null: { [K0]: 'false' } } };
    expect(codes({ Statement: [attestedAllow, nullFalseDeny, deny0] })).toEqual(['KP006']);
    const nullTrueDeny = { ...deny0, Sid: 'DenyAbsent', Condition: { Null: { [K0]: 'true' } } };
    expect(codes({ Statement: [attestedAllow, deny0, nullTrueDeny] })).toEqual([]);
  });

  it('KP006 for Bool, KP013 for PCR indexes an enclave does not have', () => {
    expect(codes({ Statement: [{ ...attestedAllow, Condition: { Bool: { [K0]: 'true' } } }] })).toEqual(['KP006']);
    const pcr40 = { ...attestedAllow, Condition: { StringEqualsIgnoreCase: { [K0]: PCR0, 'kms:RecipientAttestation:PCR40': PCR0 } } };
    expect(codes({ Statement: [pcr40, deny0] })).toEqual(['KP013']);
  });

  it('KP010 when PCR8 is pinned but the manifest has none', () => {
    const unsigned = { ...manifest, pcrs: { '0': manifest.pcrs['0'], '1': manifest.pcrs['1'], '2': manifest.pcrs['2'] } };
    const k8 = 'kms:RecipientAttestation:PCR8';
    const allow = { ...attestedAllow, Condition: { StringEqualsIgnoreCase: { [K0]: PCR0, [k8]: manifest.pcrs['8'] } } };
    const deny8 = { ...deny0, Sid: 'Deny8', Condition: { StringNotEqualsIgnoreCase: { [k8]: manifest.pcrs['8'] } } };
    expect(codes({ Statement: [allow, deny0, deny8] }, { manifest })).toEqual([]);
    expect(codes({ Statement: [allow, deny0, deny8] }, { manifest: unsigned })).toEqual(['KP010', 'KP010']);
  });

  it('KP023 when the enclave role (from --role or an attested Allow) may PutKeyPolicy or CreateGrant', () => {
    const grant = { Sid: 'RoleGrants', Effect: 'Allow', Principal: { AWS: ROLE }, Action: ['kms:CreateGrant'], Resource: '*' };
    expect(codes({ Statement: [grant] })).toEqual([]);
    expect(codes({ Statement: [grant] }, { enclaveRoleArn: ROLE })).toEqual(['KP023']);
    expect(codes({ Statement: [attestedAllow, deny0, grant] })).toEqual(['KP023']);
    const adminGrant = { ...grant, Principal: { AWS: 'arn:aws:iam::111122223333:role/admin' } };
    expect(codes({ Statement: [attestedAllow, deny0, adminGrant] }, { enclaveRoleArn: ROLE })).toEqual([]);
  });

  it('KP028 when a pinned PCR3 is not the hash of --role', () => {
    const k3 = 'kms:RecipientAttestation:PCR3';
    const pcr3 = (arn: string): Record<string, unknown>[] => [
      { ...attestedAllow, Condition: { StringEqualsIgnoreCase: { [K0]: PCR0, [k3]: pcr3ForRoleArn(arn) } } },
      deny0,
      { ...deny0, Sid: 'Deny3', Condition: { StringNotEqualsIgnoreCase: { [k3]: pcr3ForRoleArn(arn) } } },
    ];
    expect(codes({ Statement: pcr3(ROLE) }, { enclaveRoleArn: ROLE })).toEqual([]);
    expect(codes({ Statement: pcr3('arn:aws:iam::111122223333:role/other') }, { enclaveRoleArn: ROLE })).toEqual(['KP028', 'KP028']);
    expect(codes({ Statement: pcr3('arn:aws:iam::111122223333:role/other') })).toEqual([]);
  });

  it('duplicate Sids: refused as KMS refuses them (POLICY_MALFORMED), not just a warning', () => {
    expect(() => codes({ Statement: [attestedAllow, { ...deny0, Sid: 'Attested' }] })).toThrow(/repeats a Sid/);
  });

  it('accepts a single statement object instead of an array', () => {
    expect(codes({ Statement: { ...attestedAllow, Condition: undefined, Action: 'kms:Encrypt' } })).toEqual([]);
  });

  it('reports findings with code, severity, statement, message and fix', () => {
    const [f] = lintKeyPolicy({ Statement: [attestedAllow] }, {}, 'sops');
    expect(f).toMatchObject({ code: 'KP001', severity: 'error', policy: 'sops', statement: { index: 0, sid: 'Attested' } });
    expect(f?.fix).toContain('StringNotEqualsIgnoreCase');
    expect(hasErrors([f!])).toBe(true);
  });

  it('every code has a severity and a title', () => {
    for (const [code, d] of Object.entries(LINT_CODES)) {
      expect(code).toMatch(/^KP\d{3}$/);
      expect(['error', 'warning']).toContain(d.severity);
      expect(d.title.length).toBeGreaterThan(10);
    }
  });

  it('refuses things that are not key policies (POLICY_MALFORMED)', () => {
    for (const bad of [null, [], 'x', {}, { Statement: [] }, { Statement: [{ Effect: 'Maybe', Principal: '*', Action: 'kms:Decrypt' }] },
      { Statement: [{ Effect: 'Allow', Action: 'kms:Decrypt' }] }, { Statement: [{ Effect: 'Allow', Principal: '*' }] },
      { Statement: [{ Effect: 'Allow', Principal: 7, Action: 'kms:Decrypt' }] },
      { Statement: [{ Effect: 'Allow', Principal: '*', Action: [1] }] },
      { Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Condition: { StringEquals: 'x' } }] }]) {
      let code = '';
      try {
        lintKeyPolicy(bad);
      } catch (e) {
        if (isPolicyError(e)) code = e.code;
      }
      expect(code, JSON.stringify(bad)).toBe('POLICY_MALFORMED');
    }
  });
});
