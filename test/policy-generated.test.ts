// Every generated policy (all key kinds × options × output formats) lints clean against
// its manifest and enclave role, and reads back to exactly the generated document.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseBuildManifest } from '../verifier/build-manifest.ts';
import { generateDocumentedKeyPolicy, type GenerateKeyPolicyInput } from '../policy/generate.ts';
import { lintPolicies } from '../policy/lint.ts';
import { readPolicyFileAsync } from '../policy/read.ts';
import { POLICY_FORMATS, renderPolicies } from '../policy/render.ts';
import { KEY_KINDS } from '../policy/types.ts';

const manifest = parseBuildManifest(readFileSync(new URL('../policy/fixtures/manifest.json', import.meta.url)));
const ROLE = 'arn:aws:iam::111122223333:role/enclave';

interface Variant {
  name: string;
  input: Omit<GenerateKeyPolicyInput, 'key' | 'manifest' | 'enclaveRoleArn'>;
}

const variants: Variant[] = [
  { name: 'minimal', input: { adminArns: ['arn:aws:iam::111122223333:role/admin'] } },
  {
    name: 'readers+editors',
    input: {
      adminArns: ['arn:aws:iam::111122223333:role/admin', 'arn:aws:iam::111122223333:user/secadmin'],
      readerArns: ['arn:aws:iam::111122223333:role/runtime', 'arn:aws:iam::444455556666:root'],
      editorArns: ['arn:aws:iam::111122223333:user/alice'],
    },
  },
  { name: 'pcr3', input: { adminArns: ['arn:aws:iam::111122223333:role/admin'], pcr3RoleArn: ROLE } },
  { name: 'pcr8', input: { adminArns: ['arn:aws:iam::111122223333:role/admin'], pinPcr8: true } },
  {
    name: 'everything',
    input: {
      adminArns: ['arn:aws:iam::111122223333:role/admin'],
      readerArns: ['arn:aws:iam::111122223333:role/path/to/runtime'],
      editorArns: ['arn:aws:iam::111122223333:role/editors'],
      pcr3RoleArn: 'arn:aws-us-gov:iam::111122223333:role/parent',
      pinPcr8: true,
    },
  },
];

describe('generated policies pass the linter', () => {
  for (const v of variants) {
    for (const format of POLICY_FORMATS) {
      it(`${v.name} × ${format}: every key kind lints clean and reads back identically`, async () => {
        const docs = KEY_KINDS.map((key) => generateDocumentedKeyPolicy({ key, manifest, enclaveRoleArn: ROLE, ...v.input }));
        const text = renderPolicies(docs, format, 'test header');
        const read = await readPolicyFileAsync(text);
        expect(read.map((r) => r.policy)).toEqual(docs.map((d) => d.policy));
        // A PCR3 role other than the enclave role is legitimate but worth a warning (KP028).
        const expected = v.input.pcr3RoleArn === undefined || v.input.pcr3RoleArn === ROLE ? [] : ['KP028', 'KP028'];
        expect(lintPolicies(read, { manifest, enclaveRoleArn: ROLE }).map((f) => f.code)).toEqual(expected);
        // Without --role the sops key is still proved (every principal is derived from the
        // policy); the envelope and signing properties name the enclave role, so lint refuses.
        expect(lintPolicies([read[0]!], { manifest })).toEqual([]);
        expect(() => lintPolicies(read, { manifest })).toThrow(/pass --role/);
        // One key at a time too (json: the bare policy document).
        for (const d of docs) {
          const single = await readPolicyFileAsync(renderPolicies([d], format, 'h'));
          expect(single.map((r) => r.policy)).toEqual([d.policy]);
          expect(lintPolicies(single, { manifest, enclaveRoleArn: ROLE }).map((f) => f.code)).toEqual(d.kind === 'sops' ? expected : []);
        }
      });
    }
  }

  it('IaC outputs carry every statement note as a comment', () => {
    const docs = KEY_KINDS.map((key) => generateDocumentedKeyPolicy({ key, manifest, enclaveRoleArn: ROLE, ...variants[4]!.input }));
    for (const format of ['cloudformation', 'terraform'] as const) {
      const text = renderPolicies(docs, format, 'header').replace(/\n\s*#\s*/g, ' ');
      for (const d of docs) for (const note of Object.values(d.notes)) expect(text).toContain(note);
    }
  });

  it('a tampered generated policy is caught (dropping one Deny → KP001, and KP030 with the request that gets through)', () => {
    const d = generateDocumentedKeyPolicy({ key: 'sops', manifest, enclaveRoleArn: ROLE, adminArns: ['arn:aws:iam::111122223333:role/admin'] });
    const tampered = { ...d.policy, Statement: d.policy.Statement.filter((s) => s.Sid !== 'DenyDecryptUnlessAttestedPCR1') };
    // Pattern KP001; not KP030: with no account-wide statement nobody else is let in, and
    // the Allow still needs PCR0 (= the image), so no request without the image gets through.
    expect(lintPolicies([{ name: 'sops', policy: tampered }], { manifest }).map((f) => f.code)).toEqual(['KP001']);
    // Add AWS's default root statement: now IAM can let anyone in, and only Deny could stop it.
    const root = { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' };
    const open = { ...d.policy, Statement: [...d.policy.Statement.filter((s) => s.Effect === 'Allow'), root] };
    const found = lintPolicies([{ name: 'sops', policy: open }], { manifest }).filter((f) => f.code === 'KP030');
    expect(found).toHaveLength(1);
    expect(found[0]?.counterexample?.attestation).toMatch(/no Recipient/);
    expect(found[0]?.message).toMatch(/IAM policies/);
  });
});
