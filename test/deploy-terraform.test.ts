// deploy/terraform: keys.tf is exactly what `policy generate --format terraform` writes for the
// example inputs (no hand-edited second copy of the policy logic), it lints clean against the
// manifest, generate-keys.sh reproduces it, and the module's other files reference its resources.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { main } from '../cli/main.ts';
import { lintPolicies } from '../policy/lint.ts';
import { readPolicyFileAsync } from '../policy/read.ts';
import { parseBuildManifest } from '../verifier/build-manifest.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const TF = join(REPO, 'deploy/terraform');
const MANIFEST = join(REPO, 'cli/aws/testdata/build-manifest-v1.json');
const ARGS = [
  'arn:aws:iam::111122223333:role/attested-pack-enclave',
  'arn:aws:iam::111122223333:role/kms-admin',
  'arn:aws:iam::111122223333:role/clef-runtime',
  'arn:aws:iam::111122223333:role/secrets-editors',
];

async function generate(): Promise<string> {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = await main(
    ['policy', 'generate', '--format', 'terraform', '--manifest', MANIFEST, '--role', ARGS[0]!, '--admin', ARGS[1]!, '--readers', ARGS[2]!, '--editors', ARGS[3]!],
    { stdout, stderr: new PassThrough() },
  );
  expect(code).toBe(0);
  return out;
}

describe('deploy/terraform/attested-pack-keys', () => {
  const keysTf = readFileSync(join(TF, 'attested-pack-keys/keys.tf'), 'utf8');

  it('keys.tf is the unedited output of policy generate --format terraform', async () => {
    expect(keysTf).toBe(await generate());
  });

  it('keys.tf lints clean against the manifest and the enclave role', async () => {
    const named = await readPolicyFileAsync(keysTf);
    expect(named.map((n) => n.name).sort()).toEqual(['aws_kms_key.attested_pack_envelope', 'aws_kms_key.attested_pack_signing', 'aws_kms_key.attested_pack_sops']);
    expect(lintPolicies(named, { manifest: parseBuildManifest(readFileSync(MANIFEST)), enclaveRoleArn: ARGS[0]! })).toEqual([]);
  });

  it('aliases and outputs refer to the resources keys.tf defines', () => {
    const defined = new Set([...keysTf.matchAll(/resource "aws_kms_key" "(\w+)"/g)].map((m) => m[1]));
    for (const file of ['aliases.tf', 'outputs.tf']) {
      const used = [...readFileSync(join(TF, 'attested-pack-keys', file), 'utf8').matchAll(/aws_kms_key\.(\w+)\./g)].map((m) => m[1]);
      expect(used.length).toBeGreaterThan(0);
      for (const u of used) expect(defined.has(u), `${file}: aws_kms_key.${u}`).toBe(true);
    }
  });

  it('generate-keys.sh regenerates the same keys.tf and lints it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-tf-'));
    try {
      cpSync(TF, dir, { recursive: true });
      rmSync(join(dir, 'attested-pack-keys/keys.tf'));
      const out = execFileSync('sh', [join(dir, 'generate-keys.sh'), MANIFEST, ...ARGS], {
        env: { ...process.env, ATTESTED_PACK: join(REPO, 'bin/attested-pack') },
        encoding: 'utf8',
      });
      expect(out).toContain('0 error(s), 0 warning(s)');
      expect(readFileSync(join(dir, 'attested-pack-keys/keys.tf'), 'utf8')).toBe(keysTf);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('generate-keys.sh leaves keys.tf untouched (and no temporary file) when generation fails', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-tf-'));
    try {
      cpSync(TF, dir, { recursive: true });
      // A stand-in CLI that writes half a file and fails, as an interrupted or refused run would.
      const fake = join(dir, 'fake-attested-pack');
      writeFileSync(fake, '#!/bin/sh\necho \'resource "aws_kms_key" "half" {\'\nexit 1\n', { mode: 0o755 });
      let failed = false;
      try {
        execFileSync('sh', [join(dir, 'generate-keys.sh'), MANIFEST, ...ARGS], { env: { ...process.env, ATTESTED_PACK: fake }, stdio: 'pipe' });
      } catch {
        failed = true;
      }
      expect(failed).toBe(true);
      expect(readFileSync(join(dir, 'attested-pack-keys/keys.tf'), 'utf8')).toBe(keysTf);
      expect(readdirSync(join(dir, 'attested-pack-keys')).filter((f) => f.startsWith('.keys'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
