// The linter's errors are real: deployed in the KMS emulator, the known-bad fixtures let
// through a request that the generated policy (same principals, same image) refuses.
import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, PutKeyPolicyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { createTestCa, type TestCa } from '../simulator/attestation-issuer.ts';
import { createSimulatedNsm } from '../simulator/nsm.ts';
import type { KmsPrincipal } from '../simulator/kms/server.ts';
import { manifestPcrs, parseBuildManifest } from '../verifier/build-manifest.ts';
import { pcr3ForRoleArn } from '../policy/attestation-keys.ts';
import { generateKeyPolicy } from '../policy/generate.ts';
import { rejection, startHarness, type Harness } from './kms-harness.ts';

const ACCOUNT = '111122223333';
const dir = new URL('../policy/fixtures/', import.meta.url);
const manifest = parseBuildManifest(readFileSync(new URL('manifest.json', dir)));
// The principals the fixtures name, as the sessions that call KMS.
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/enclave`;
const ADMIN: KmsPrincipal = { accessKeyId: 'AKIAFIXTUREADMIN0001', secretAccessKey: 'fixture-admin-secret-for-tests-only-00000', principalArn: `arn:aws:sts::${ACCOUNT}:assumed-role/admin/ops` };
const ENCLAVE: KmsPrincipal = { accessKeyId: 'AKIAFIXTUREENCLAVE01', secretAccessKey: 'fixture-enclave-secret-for-tests-only-000', principalArn: `arn:aws:sts::${ACCOUNT}:assumed-role/enclave/i-0a1b2c3d4e5f60718` };
const WRITER: KmsPrincipal = { accessKeyId: 'AKIAFIXTUREWRITER001', secretAccessKey: 'fixture-writer-secret-for-tests-only-0000', principalArn: `arn:aws:iam::${ACCOUNT}:user/writer` };
const OTHER: KmsPrincipal = { accessKeyId: 'AKIAFIXTUREOTHER0001', secretAccessKey: 'fixture-other-secret-for-tests-only-00000', principalArn: `arn:aws:iam::${ACCOUNT}:user/ci` };

const IMAGE = new Map(manifestPcrs(manifest));
IMAGE.set(3, Buffer.from(pcr3ForRoleArn(ROLE_ARN), 'hex'));

let ca: TestCa;
let h: Harness;
let admin: KMSClient;
let enclave: KMSClient;
let writer: KMSClient;
let other: KMSClient;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const spki = rsa.publicKey.export({ type: 'spki', format: 'der' });

beforeAll(async () => {
  ca = await createTestCa();
  h = await startHarness({ attestationRoot: ca.rootDer, accountId: ACCOUNT, principals: [ADMIN, ENCLAVE, WRITER, OTHER] });
  admin = h.client(ADMIN);
  enclave = h.client(ENCLAVE);
  writer = h.client(WRITER);
  other = h.client(OTHER);
});
afterAll(async () => h.close());

type Policy = { Statement: object[] };

function fixture(prefix: string): Policy {
  const name = readdirSync(dir).find((f) => f.startsWith(`${prefix}-`));
  if (name === undefined) throw new Error(`no fixture ${prefix}`);
  return JSON.parse(readFileSync(new URL(name, dir), 'utf8')) as Policy;
}

const generated = (): Policy => generateKeyPolicy({ key: 'sops', manifest, enclaveRoleArn: ROLE_ARN, adminArns: [`arn:aws:iam::${ACCOUNT}:role/admin`] }) as unknown as Policy;

/** Deploy a policy (plus a test-only Encrypt grant for the writer) and return a data-key ciphertext. */
async function deploy(policy: Policy, extra: object[] = []): Promise<{ keyId: string; blob: Uint8Array }> {
  const full = { ...policy, Statement: [...policy.Statement, ...extra, { Sid: 'TestWriterEncrypts', Effect: 'Allow', Principal: { AWS: WRITER.principalArn }, Action: 'kms:Encrypt', Resource: '*' }] };
  const keyId = (await admin.send(new CreateKeyCommand({ Policy: JSON.stringify(full) }))).KeyMetadata!.KeyId!;
  const blob = (await writer.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('secret data key') }))).CiphertextBlob!;
  return { keyId, blob };
}

async function recipient(pcrs: Map<number, Uint8Array>, debug = false): Promise<{ AttestationDocument: Uint8Array; KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }> {
  return { AttestationDocument: await createSimulatedNsm({ ca, pcrs, debug }).attest({ publicKey: spki }), KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' };
}

function image(changes: Array<[number, Buffer]>): Map<number, Uint8Array> {
  const m = new Map(IMAGE);
  for (const [i, v] of changes) m.set(i, v);
  return m;
}

/** Run the same request against the fixture and against the generated policy. */
async function contrast(prefix: string, call: (blob: Uint8Array, keyId: string) => Promise<unknown>, extra: object[] = []): Promise<void> {
  const bad = await deploy(fixture(prefix), extra);
  await call(bad.blob, bad.keyId); // succeeds: the fail-open is real
  const good = await deploy(generated(), extra);
  const e = await rejection(call(good.blob, good.keyId));
  expect(e.name).toBe('AccessDeniedException');
}

const ROOT_EVERYTHING = { Sid: 'AccountRootEverything', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' };

describe('known-bad fixtures fail open in the KMS emulator; the generated policy does not', () => {
  it('KP001: without the Deny, any principal IAM lets in decrypts in plaintext, no attestation', async () => {
    await contrast('KP001', async (blob) => expect((await other.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext).toBeDefined(), [ROOT_EVERYTHING]);
  });

  it('KP003: StringLike on a PCR prefix admits another image sharing the prefix', async () => {
    const forged = Buffer.from(`${manifest.pcrs['0'].slice(0, 20)}${'f'.repeat(76)}`, 'hex');
    await contrast('KP003', async (blob) => enclave.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: await recipient(image([[0, forged]])) })));
  });

  it('KP006: Null=false admits any enclave image', async () => {
    await contrast('KP006', async (blob) => enclave.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: await recipient(image([[0, Buffer.alloc(48, 0xab)], [1, Buffer.alloc(48, 0xcd)]])) })));
  });

  it('KP007: pinned zeros admit a debug-mode enclave', async () => {
    await contrast('KP007', async (blob) => enclave.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: await recipient(IMAGE, true) })));
  });

  it('KP016: one Deny with all PCRs lets a document with one wrong PCR through', async () => {
    await contrast('KP016', async (blob) => other.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: await recipient(image([[2, Buffer.alloc(48, 0xee)]])) })), [ROOT_EVERYTHING]);
  });

  it('KP017: a Deny for the enclave role only does not stop other principals decrypting without attestation', async () => {
    await contrast('KP017', async (blob) => expect((await other.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext).toBeDefined(), [ROOT_EVERYTHING]);
  });

  it('KP021: pinning only PCR3 admits any image on that role', async () => {
    await contrast('KP021', async (blob) => enclave.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: await recipient(image([[0, Buffer.alloc(48, 1)], [1, Buffer.alloc(48, 2)], [2, Buffer.alloc(48, 3)]])) })));
  });

  it('KP023: an enclave role with PutKeyPolicy rewrites the policy and decrypts in plaintext', async () => {
    const takeover = (keyId: string): Promise<unknown> =>
      enclave.send(new PutKeyPolicyCommand({
        KeyId: keyId,
        PolicyName: 'default',
        Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'Mine', Effect: 'Allow', Principal: { AWS: ROLE_ARN }, Action: ['kms:Decrypt', 'kms:PutKeyPolicy'], Resource: '*' }] }),
      }));
    await contrast('KP023', async (blob, keyId) => {
      await takeover(keyId);
      expect((await enclave.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext).toBeDefined();
    });
  });
});
