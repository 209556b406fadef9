// SOPS with AWS KMS master keys against the KMS emulator, real sops binary both ways:
// encryption context honoured in both directions, mixed age + KMS key groups, and a
// tampered context refused (KMS will not unwrap, so no data key and no plaintext).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { ageKeyWrapper, ageOpener, decryptSops, encryptSops, keyGroupUnwrapper, kmsKeyWrapper, kmsOpener, kmsUnwrapper, parseSops } from '../enclave/sops/index.ts';
import { sdkKmsDecrypt, sdkKmsEncrypt } from '../enclave/sops/kms-sdk.ts';
import { ADMIN, startHarness, type Harness } from './kms-harness.ts';
import { newAgeKey, runSopsAsync, scratch, type AgeKeyPair, type Scratch } from './sops-support.ts';

let h: Harness;
let kms: KMSClient;
let arn: string;
let s: Scratch;
let age: AgeKeyPair;

function awsEnv(): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_KMS: h.emulator.endpoint,
    SSL_CERT_FILE: h.emulator.caFile,
    AWS_ACCESS_KEY_ID: ADMIN.accessKeyId,
    AWS_SECRET_ACCESS_KEY: ADMIN.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: `${s.dir}/none`,
    AWS_SHARED_CREDENTIALS_FILE: `${s.dir}/none`,
  };
}

beforeAll(async () => {
  h = await startHarness();
  kms = h.client();
  arn = (await kms.send(new CreateKeyCommand({ Description: 'sops files' }))).KeyMetadata?.Arn ?? '';
  s = scratch();
  age = await newAgeKey();
});
afterAll(async () => {
  await h.close();
  s.cleanup();
});

const PLAIN_JSON = '{"db": {"password": "kms-secret", "port": 5432}, "flag": true}';

describe('SOPS + KMS emulator', () => {
  it('sops → ours: KMS key with encryption context, JSON', async () => {
    const r = await runSopsAsync(['encrypt', '--kms', arn, '--encryption-context', 'app:web,env:prod', s.write('in.json', PLAIN_JSON)], { cwd: s.dir, env: awsEnv() });
    expect(r.stderr).toBe('');
    const parsed = parseSops(r.stdout, { format: 'json', fileName: 'in.enc.json' });
    const k = parsed.metadata.keyGroups[0]?.[0];
    expect(k?.type === 'kms' && k.context).toEqual({ app: 'web', env: 'prod' });
    const d = await decryptSops(parsed, kmsUnwrapper(sdkKmsDecrypt(() => kms)));
    expect(d.data).toEqual(JSON.parse(PLAIN_JSON));
    // Editing the stored context makes KMS refuse the unwrap.
    const tampered = r.stdout.replace('"env": "prod"', '"env": "dev"');
    await expect(decryptSops(parseSops(tampered, { format: 'json', fileName: 'in.enc.json' }), kmsUnwrapper(sdkKmsDecrypt(() => kms))))
      .rejects.toMatchObject({ code: 'SOPS_NO_DATA_KEY', fileName: 'in.enc.json' });
  });

  it('ours → sops: KMS (with context) and age in one key group; either opens it', async () => {
    const enc = await encryptSops(PLAIN_JSON, {
      format: 'json',
      keys: [kmsKeyWrapper({ arn, context: { app: 'web' }, encrypt: sdkKmsEncrypt(() => kms) }), ageKeyWrapper(age.recipient)],
    });
    const path = s.write('ours.enc.json', enc);
    const viaKms = await runSopsAsync(['decrypt', path], { cwd: s.dir, env: awsEnv() });
    expect(viaKms.stderr).toBe('');
    expect(JSON.parse(viaKms.stdout)).toEqual(JSON.parse(PLAIN_JSON));
    const viaAge = await runSopsAsync(['decrypt', path], { cwd: s.dir, ageIdentities: [age.identity], env: { AWS_EC2_METADATA_DISABLED: 'true' } });
    expect(JSON.parse(viaAge.stdout)).toEqual(JSON.parse(PLAIN_JSON));
    // Ours: age first (as sops orders it), KMS when no age identity is given.
    const both = keyGroupUnwrapper(ageOpener([]), kmsOpener(sdkKmsDecrypt(() => kms)));
    expect((await decryptSops(parseSops(enc, { format: 'json', fileName: 'ours.enc.json' }), both)).data).toEqual(JSON.parse(PLAIN_JSON));
  });

  it('a KMS that denies every Decrypt yields SOPS_NO_DATA_KEY naming the key', async () => {
    const enc = await encryptSops('a: 1\n', { format: 'yaml', keys: [kmsKeyWrapper({ arn, encrypt: sdkKmsEncrypt(() => kms) })] });
    const denying = kmsUnwrapper(async () => {
      throw new Error('AccessDeniedException: not allowed');
    });
    const e = await decryptSops(parseSops(enc, { format: 'yaml', fileName: 'd.yaml' }), denying).then(() => undefined, (x: unknown) => x as Error);
    expect(e).toMatchObject({ code: 'SOPS_NO_DATA_KEY' });
    expect(e?.message).toContain(arn);
    expect(e?.message).toContain('AccessDeniedException');
  });
});
