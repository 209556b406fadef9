// `attested-pack open`: the runtime-side CLI, through the dispatcher, with age and KMS
// (emulator) artifacts; refusals exit 1 with the code, usage errors exit 2.
import { generateKeyPairSync } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { main } from '../cli/main.ts';
import { ed25519Signer, kmsDekWrapper, packArtifact } from '../enclave/clef/index.ts';
import { sdkKmsEncryptDek } from '../enclave/clef/kms-sdk.ts';
import { ADMIN, startHarness, type Harness } from './kms-harness.ts';
import { newAgeKey, scratch, type AgeKeyPair, type Scratch } from './sops-support.ts';

const VALUES = { app: { API_KEY: 'k-123', DB_URL: 'postgres://x' } };

let s: Scratch;
let id: AgeKeyPair;
const ed = generateKeyPairSync('ed25519');
const pub = ed.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
let artifactPath: string;
let idFile: string;

async function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await main(argv, { stdout, stderr, cwd: s.dir, env });
  return { code, out, err };
}

beforeAll(async () => {
  s = scratch();
  id = await newAgeKey();
  idFile = s.write('service.agekey', `# created: test\n# public key: ${id.recipient}\n${id.identity}\n`);
  const out = await packArtifact({ identity: 'api', environment: 'prod', values: VALUES, target: { recipient: id.recipient }, signer: ed25519Signer(ed.privateKey) });
  artifactPath = s.write('artifact.json', out.json);
});
afterAll(() => s.cleanup());

describe('attested-pack open', () => {
  it('says in --help that it prints plaintext', async () => {
    const r = await run(['open', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/PLAINTEXT/);
  });

  it('prints the secrets of a verified artifact', async () => {
    const r = await run(['open', artifactPath, '--identity', 'api', '--env', 'prod', '--verify-key', pub, '--age-identity', idFile]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(VALUES);
  });

  it('--json adds identity, environment, revision and keys; a PEM key file works too', async () => {
    const pem = s.write('verify.pem', ed.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const r = await run(['open', 'artifact.json', '--verify-key', pem, '--age-identity', 'service.agekey', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as Record<string, unknown>;
    expect(j).toMatchObject({ identity: 'api', environment: 'prod', keys: ['app__API_KEY', 'app__DB_URL'], values: VALUES });
    expect(j.revision).toMatch(/^\d+-[0-9a-f]{8}$/);
  });

  it('refuses (exit 1) with the code: wrong signer, wrong identity, wrong age key', async () => {
    const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    const bad = await run(['open', artifactPath, '--verify-key', other, '--age-identity', idFile]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('ARTIFACT_SIGNATURE_INVALID');
    expect(bad.out).toBe('');
    const wrongId = await run(['open', artifactPath, '--identity', 'worker', '--env', 'prod', '--verify-key', pub, '--age-identity', idFile]);
    expect(wrongId.code).toBe(1);
    expect(wrongId.err).toContain('ARTIFACT_IDENTITY_MISMATCH');
    const strangerFile = s.write('stranger.agekey', `${(await newAgeKey()).identity}\n`);
    const stranger = await run(['open', artifactPath, '--verify-key', pub, '--age-identity', strangerFile, '--json']);
    expect(stranger.code).toBe(1);
    expect(JSON.parse(stranger.out)).toMatchObject({ ok: false, code: 'ARTIFACT_KEY_UNAVAILABLE' });
  });

  it('reads the Clef agent environment variables when flags are absent', async () => {
    const r = await run(['open', artifactPath], { CLEF_AGENT_VERIFY_KEY: pub, CLEF_AGENT_AGE_KEY: id.identity });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(VALUES);
    const f = await run(['open', artifactPath], { CLEF_AGENT_VERIFY_KEY: pub, CLEF_AGENT_AGE_KEY_FILE: idFile });
    expect(f.code).toBe(0);
  });

  it('usage errors exit 2: no verify key, half a binding, unreadable files', async () => {
    expect((await run(['open', artifactPath, '--age-identity', idFile])).code).toBe(2);
    expect((await run(['open', artifactPath, '--identity', 'api', '--allow-unsigned'])).code).toBe(2);
    expect((await run(['open', 'missing.json', '--allow-unsigned'])).code).toBe(2);
    expect((await run(['open', artifactPath, '--allow-unsigned', '--verify-key', pub])).code).toBe(2);
  });

  describe('KMS envelope through --kms-endpoint (emulator)', () => {
    let h: Harness;
    let kms: KMSClient;
    let kmsArtifact: string;
    beforeAll(async () => {
      h = await startHarness();
      kms = h.client();
      const arn = (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.Arn ?? '';
      const out = await packArtifact({ identity: 'api', environment: 'prod', values: VALUES, target: { dekWrapper: kmsDekWrapper(arn, sdkKmsEncryptDek(() => kms)) }, signer: ed25519Signer(ed.privateKey) });
      kmsArtifact = s.write('kms-artifact.json', out.json);
    });
    afterAll(async () => h.close());

    it('unwraps the DEK with KMS Decrypt and prints the secrets', async () => {
      const env = { AWS_ACCESS_KEY_ID: ADMIN.accessKeyId, AWS_SECRET_ACCESS_KEY: ADMIN.secretAccessKey };
      const r = await run(['open', kmsArtifact, '--verify-key', pub, '--kms-endpoint', h.emulator.endpoint, '--kms-ca', h.emulator.caFile], env);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out)).toEqual(VALUES);
      const denied = await run(['open', kmsArtifact, '--verify-key', pub, '--kms-endpoint', h.emulator.endpoint, '--kms-ca', h.emulator.caFile], { AWS_ACCESS_KEY_ID: 'AKIAUNKNOWN000000000', AWS_SECRET_ACCESS_KEY: 'x' });
      expect(denied.code).toBe(1);
      expect(denied.err).toContain('ARTIFACT_KEY_UNAVAILABLE');
    });
  });
});
