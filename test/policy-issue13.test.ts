// Issue 13's four policies that the old linter passed although they let a principal decrypt
// without attestation: lint now refuses each with the request that gets through, and that
// very request, sent to the KMS emulator with signed SDK calls, really is allowed there.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { KmsPrincipal } from '../simulator/kms/server.ts';
import { parseBuildManifest } from '../verifier/build-manifest.ts';
import { lintPolicies } from '../policy/lint.ts';
import type { LintFinding } from '../policy/lint-codes.ts';
import { readPolicyFileAsync } from '../policy/read.ts';
import { runCli } from './cli-support.ts';
import { startHarness, type Harness } from './kms-harness.ts';

const ACCOUNT = '111122223333';
const dir = new URL('../policy/fixtures/issue-13/', import.meta.url);
const manifestPath = fileURLToPath(new URL('../policy/fixtures/manifest.json', import.meta.url));
const manifest = parseBuildManifest(readFileSync(manifestPath));
const FIXTURES = ['1-deny-scoped-to-alias.json', '2-deny-service-star.json', '3-role-decrypt-unattested.json', '4-commented-policy.tf'];

async function lint(file: string, withRole: boolean): Promise<LintFinding[]> {
  const named = await readPolicyFileAsync(readFileSync(new URL(file, dir), 'utf8'));
  return lintPolicies(named, { manifest, ...(withRole ? { enclaveRoleArn: `arn:aws:iam::${ACCOUNT}:role/enclave` } : {}) });
}

describe('issue 13: the four fail-open policies are refused, each with a counterexample', () => {
  for (const file of FIXTURES) {
    for (const withRole of [true, false]) {
      it(`${file}${withRole ? '' : ' (no --role: every principal is derived from the policy)'}: KP030 names the request that decrypts without attestation`, async () => {
        const kp030 = (await lint(file, withRole)).filter((f) => f.code === 'KP030');
        expect(kp030).toHaveLength(1);
        const c = kp030[0]?.counterexample;
        expect(c?.action).toMatch(/^kms:(Decrypt|ReEncryptFrom|GenerateDataKey.*|ReEncryptTo|DeriveSharedSecret|Sign|Verify|GenerateMac|VerifyMac|CreateGrant)$/);
        expect(c?.attestation).toMatch(/no Recipient/);
        expect(c?.resource).toMatch(/^arn:aws:kms:us-east-1:111122223333:key\//);
        expect(kp030[0]?.message).toContain(c?.callerArn);
      });
    }
  }

  it('the CLI exits 1 and prints the counterexample for the Terraform one (the commented-out policy is a comment)', async () => {
    const r = await runCli(['policy', 'lint', fileURLToPath(new URL('4-commented-policy.tf', dir)), '--manifest', manifestPath, '--role', `arn:aws:iam::${ACCOUNT}:role/enclave`]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/error KP030 aws_kms_key\.attested_pack_sops .*Counterexample: .*calls kms:Decrypt .*with no Recipient/);
  });
});

describe('issue 13: the counterexamples are real in the KMS emulator (signed SDK requests)', () => {
  const ENCLAVE: KmsPrincipal = { accessKeyId: 'AKIAISSUE13ENCLAVE01', secretAccessKey: 'issue13-enclave-secret-for-tests-only-0', principalArn: `arn:aws:sts::${ACCOUNT}:assumed-role/enclave/i-0a1b2c3d4e5f60718` };
  const ADMIN: KmsPrincipal = { accessKeyId: 'AKIAISSUE13ADMIN0001', secretAccessKey: 'issue13-admin-secret-for-tests-only-00000', principalArn: `arn:aws:sts::${ACCOUNT}:assumed-role/admin/ops` };
  const WRITER: KmsPrincipal = { accessKeyId: 'AKIAISSUE13WRITER001', secretAccessKey: 'issue13-writer-secret-for-tests-only-0000', principalArn: `arn:aws:iam::${ACCOUNT}:user/writer` };
  let h: Harness;
  let admin: KMSClient;
  let enclave: KMSClient;
  let writer: KMSClient;
  beforeAll(async () => {
    h = await startHarness({ accountId: ACCOUNT, principals: [ADMIN, ENCLAVE, WRITER] });
    admin = h.client(ADMIN);
    enclave = h.client(ENCLAVE);
    writer = h.client(WRITER);
  });
  afterAll(async () => h.close());

  for (const file of FIXTURES) {
    it(`${file}: the enclave role decrypts in plaintext with no Recipient`, async () => {
      const [named] = await readPolicyFileAsync(readFileSync(new URL(file, dir), 'utf8'));
      const policy = named?.policy as { Statement: object[] };
      const full = { ...policy, Statement: [...policy.Statement, { Sid: 'TestWriterEncrypts', Effect: 'Allow', Principal: { AWS: WRITER.principalArn }, Action: 'kms:Encrypt', Resource: '*' }] };
      const keyId = (await admin.send(new CreateKeyCommand({ Policy: JSON.stringify(full), BypassPolicyLockoutSafetyCheck: true }))).KeyMetadata?.KeyId;
      const blob = (await writer.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('sops data key') }))).CiphertextBlob;
      const out = await enclave.send(new DecryptCommand({ CiphertextBlob: blob }));
      expect(Buffer.from(out.Plaintext ?? []).toString()).toBe('sops data key');
    });
  }
});
