// The trust anchor measured into the image (`build --trust-policy`): one changed line of the
// policy moves PCR2 and PCR0 but not PCR1, and `pcr-diff` names rootfs/app/trust-policy.json;
// the manifest records the canonical digest; `describe` shows it and DEVELOPMENT; `rebuild`
// with the same file matches, with another or no file it is refused before building.
// Two full builds and one rebuild, on the shared download cache (.cache/attested-pack).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { main } from '../cli/main.ts';
import { buildImage } from '../reproducible/build-image.ts';
import { loadTrustPolicy } from '../build/trust-policy-file.ts';
import { diffEifs } from '../build/pcr-diff.ts';
import { readCpio } from '../build/cpio.ts';
import { readEif } from '../build/eif.ts';
import { parseBuildManifest } from '../verifier/build-manifest.ts';
import { samplePolicyValue } from '../verifier/test-trust-policy.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CACHE = join(REPO, '.cache', 'attested-pack');
const BUILD_TIMEOUT = 600_000;

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

let dir: string;
async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(argv, { stdout, stderr, cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' } });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** A DEVELOPMENT policy as an operator would write it (YAML). */
function policyYaml(): string {
  const p = samplePolicyValue();
  p.development = true;
  return `# trust policy for the build test\n${stringify(p)}`;
}

describe('build --trust-policy', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'build-trust-'));
    writeFileSync(join(dir, 'policy.yaml'), policyYaml());
    // One changed line: another ref for the dev environment.
    const changed = policyYaml().replace('- refs/heads/develop', '- refs/heads/release');
    expect(changed).not.toBe(policyYaml());
    writeFileSync(join(dir, 'changed.yaml'), changed);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('measures the policy into PCR2/PCR0 (not PCR1), records its digest, and rebuild needs the same file', async () => {
    const built = await cli(['build', '--trust-policy', 'policy.yaml', '--dev-blobs', '--out', 'a', '--cache', CACHE, '--json']);
    expect(built.stderr).not.toMatch(/error/i);
    expect(built.code).toBe(0);
    const expected = loadTrustPolicy(readFileSync(join(dir, 'policy.yaml')), 'policy.yaml');
    const manifest = parseBuildManifest(readFileSync(join(dir, 'a', 'build-manifest.json')));
    expect(manifest.trustPolicy).toEqual({ sha384: expected.sha384, development: true, path: '/app/trust-policy.json' });
    expect(manifest.inputs.find((i) => i.name === 'trust-policy')?.sha384).toBe(expected.sha384);
    expect(JSON.parse(built.stdout).trustPolicy).toEqual(manifest.trustPolicy);
    const eifA = readFileSync(join(dir, 'a', 'attested-pack.eif'));

    // The image carries exactly the canonical bytes, where the environment says.
    const app = readCpio(readEif(eifA).ramdisks[1]!);
    const file = app.find((r) => r.path === 'rootfs/app/trust-policy.json');
    expect(Buffer.from(file!.data).equals(Buffer.from(expected.bytes))).toBe(true);
    expect(Buffer.from(app.find((r) => r.path === 'env')!.data).toString()).toContain('ATTESTED_PACK_TRUST_POLICY=/app/trust-policy.json\n');

    // describe: the digest and DEVELOPMENT, loudly.
    const described = await cli(['describe', join('a', 'attested-pack.eif')]);
    expect(described.code).toBe(0);
    expect(described.stdout).toContain(`Trust policy:    sha384 ${expected.sha384}`);
    expect(described.stdout).toMatch(/\*\*\* DEVELOPMENT trust policy/);

    // One changed line of the policy: PCR0 and PCR2 move, PCR1 does not; pcr-diff names the file.
    const changed = await buildImage({ sourceRoot: REPO, outDir: join(dir, 'b'), cacheDir: CACHE, developmentBlobs: true, trustPolicy: loadTrustPolicy(readFileSync(join(dir, 'changed.yaml')), 'changed.yaml') });
    const diff = diffEifs(eifA, changed.eif);
    expect(diff.pcrs.filter((p) => !p.equal).map((p) => p.pcr)).toEqual(['0', '2']);
    expect(diff.changes.map((c) => c.section)).toEqual(['ramdisk[1] (application)']);
    expect(diff.changes[0]?.files?.map((f) => f.path)).toEqual(['rootfs/app/trust-policy.json']);
    expect(diff.trustPolicy).toEqual({ path: 'rootfs/app/trust-policy.json', a: expected.sha384, b: changed.manifest.trustPolicy?.sha384 });
    const shown = await cli(['pcr-diff', join('a', 'attested-pack.eif'), join('b', 'attested-pack.eif')]);
    expect(shown.code).toBe(1);
    expect(shown.stdout).toMatch(/PCR1: same/);
    expect(shown.stdout).toContain('changed rootfs/app/trust-policy.json [sha384]');
    expect(shown.stdout).toContain(`trust policy rootfs/app/trust-policy.json differs: sha384 ${expected.sha384} → sha384 ${changed.manifest.trustPolicy?.sha384}`);

    // rebuild: the same file matches; another or no file is refused before anything is built.
    const manifestPath = join('a', 'build-manifest.json');
    const other = await cli(['rebuild', '--manifest', manifestPath, '--trust-policy', 'changed.yaml', '--cache', CACHE]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain(`TRUST_POLICY_MISMATCH: --trust-policy is not the manifest's policy: its canonical sha384 is ${changed.manifest.trustPolicy?.sha384}, the manifest names ${expected.sha384}`);
    expect(other.stderr).not.toMatch(/bundling/);
    const missing = await cli(['rebuild', '--manifest', manifestPath, '--cache', CACHE]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`TRUST_POLICY_REQUIRED: the manifest was built with the trust policy sha384 ${expected.sha384} (DEVELOPMENT): pass that policy with --trust-policy FILE`);
    const match = await cli(['rebuild', '--manifest', manifestPath, '--trust-policy', 'policy.yaml', '--cache', CACHE, '--json']);
    expect(match.code).toBe(0);
    const report = JSON.parse(match.stdout) as { match: boolean; checks: Array<{ what: string; ok: boolean }> };
    expect(report.match).toBe(true);
    expect(report.checks.filter((c) => ['trust policy', 'input trust-policy', 'PCR0', 'PCR2'].includes(c.what)).map((c) => c.ok)).toEqual([true, true, true, true]);
  }, BUILD_TIMEOUT);

  it('refuses an unusable policy file before building: duplicate key, BOM, missing file', async () => {
    writeFileSync(join(dir, 'dup.yaml'), `development: true\n${policyYaml()}`);
    const dup = await cli(['build', '--trust-policy', 'dup.yaml', '--dev-blobs', '--out', 'never', '--cache', CACHE]);
    expect(dup.code).toBe(2);
    expect(dup.stderr).toMatch(/TRUST_POLICY_INVALID: .*[Dd]uplicate|unique/);
    writeFileSync(join(dir, 'bom.yaml'), `\ufeff${policyYaml()}`);
    const bom = await cli(['build', '--trust-policy', 'bom.yaml', '--dev-blobs', '--out', 'never', '--cache', CACHE]);
    expect(bom.code).toBe(2);
    expect(bom.stderr).toContain('TRUST_POLICY_INVALID: bom.yaml starts with a byte order mark');
    const absent = await cli(['build', '--trust-policy', 'absent.yaml', '--dev-blobs', '--out', 'never', '--cache', CACHE]);
    expect(absent.code).toBe(2);
    expect(absent.stderr).toMatch(/cannot read trust policy/);
    expect(dup.stderr + bom.stderr).not.toMatch(/bundling/);
  });

  it('refuses to sign with an expired or not-yet-valid certificate, before building', async () => {
    const testdata = join(REPO, 'build', 'testdata');
    for (const [signer, code] of [['expired', 'EIF_SIGNING_CERT_EXPIRED'], ['future', 'EIF_SIGNING_CERT_NOT_YET_VALID']] as const) {
      const r = await cli(['build', '--dev-blobs', '--out', 'never', '--cache', CACHE, '--sign-cert', join(testdata, `signer-${signer}.pem`), '--sign-key', join(testdata, `signer-${signer}.key`)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`attested-pack build: ${code}: `);
      expect(r.stderr).not.toMatch(/bundling/);
    }
  });
});
