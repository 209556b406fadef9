// `describe` on small synthetic EIFs: the trust policy in the application ramdisk (absent,
// DEVELOPMENT, production, invalid) and the signing certificate's dates (expired, not yet
// valid), through the CLI for the exit codes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { main } from '../cli/main.ts';
import { writeCpio } from './cpio.ts';
import { writeEif } from './eif.ts';
import { computeEifPcrs } from './pcrs.ts';
import { createEifSignature } from './eif-signature.ts';
import { describeEif } from './describe.ts';
import { loadTrustPolicy } from './trust-policy-file.ts';
import { samplePolicyValue } from '../verifier/test-trust-policy.ts';

const TESTDATA = fileURLToPath(new URL('./testdata/', import.meta.url));

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

let dir: string;
async function describeCli(file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(['describe', file], { stdout, stderr, cwd: dir, env: {} });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

function image(policy?: Uint8Array, signer?: 'expired' | 'future'): Buffer {
  const files = [{ type: 'file' as const, path: 'cmd', data: Buffer.from('/x\n') }];
  if (policy !== undefined) files.push({ type: 'file', path: 'rootfs/app/trust-policy.json', data: Buffer.from(policy) });
  const ramdisks = [writeCpio([{ type: 'file', path: 'init', data: Buffer.from('init'), mode: 0o755 }], { mtime: 0 }), writeCpio(files, { mtime: 0 })];
  const parts = { kernel: Buffer.from('kernel'), cmdline: Buffer.from('console=ttyS0'), metadata: Buffer.from('{}'), ramdisks };
  if (signer === undefined) return Buffer.from(writeEif(parts));
  const signature = createEifSignature(computeEifPcrs(parts)[0], {
    certificatePem: readFileSync(join(TESTDATA, `signer-${signer}.pem`), 'utf8'),
    privateKeyPem: readFileSync(join(TESTDATA, `signer-${signer}.key`), 'utf8'),
  });
  return Buffer.from(writeEif({ ...parts, signature }));
}

const policy = (development: boolean): Uint8Array => {
  const p = samplePolicyValue();
  p.development = development;
  return loadTrustPolicy(Buffer.from(JSON.stringify(p)), 'p.json').bytes;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'describe-trust-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('describe: trust policy', () => {
  it('says an image without a policy refuses every pack', async () => {
    writeFileSync(join(dir, 'none.eif'), image());
    const r = await describeCli('none.eif');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Trust policy: +NONE \(no \/app\/trust-policy\.json\): an attested-pack enclave REFUSES EVERY PACK/);
    expect(describeEif(image()).trustPolicy).toEqual({ present: false, path: '/app/trust-policy.json' });
  });

  it('shows the digest, and DEVELOPMENT loudly for a development policy', async () => {
    const dev = policy(true);
    writeFileSync(join(dir, 'dev.eif'), image(dev));
    const r = await describeCli('dev.eif');
    expect(r.code).toBe(0);
    const digest = loadTrustPolicy(dev, 'dev').sha384;
    expect(r.stdout).toContain(`Trust policy:    sha384 ${digest} (/app/trust-policy.json, ${dev.length} bytes)`);
    expect(r.stdout).toContain('*** DEVELOPMENT trust policy');
    writeFileSync(join(dir, 'prod.eif'), image(policy(false)));
    const prod = await describeCli('prod.eif');
    expect(prod.code).toBe(0);
    expect(prod.stdout).not.toContain('DEVELOPMENT');
    expect(describeEif(image(policy(false))).trustPolicy).toMatchObject({ present: true, development: false, valid: true });
  });

  it('exits 1 on a policy file the enclave would refuse (not canonical, or invalid)', async () => {
    const spaced = Buffer.from(JSON.stringify(samplePolicyValue(), null, 2));
    writeFileSync(join(dir, 'bad.eif'), image(spaced));
    const r = await describeCli('bad.eif');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/Trust policy: +INVALID \/app\/trust-policy\.json/);
    expect(r.stderr).toMatch(/TRUST_POLICY_INVALID: .*canonical form/);
  });
});

describe('describe: signing certificate dates', () => {
  it('exits 1 and says nitro-cli refuses an expired or not-yet-valid signing certificate', async () => {
    writeFileSync(join(dir, 'expired.eif'), image(undefined, 'expired'));
    const expired = await describeCli('expired.eif');
    expect(expired.code).toBe(1);
    expect(expired.stdout).toMatch(/valid: +2020-01-01T00:00:00\.000Z \.\. 2020-01-02T00:00:00\.000Z \(EXPIRED — nitro-cli refuses this image\)/);
    expect(expired.stdout).toContain('signature valid');
    expect(expired.stderr).toContain('EIF_SIGNING_CERT_EXPIRED: the EIF signing certificate expired at 2020-01-02T00:00:00.000Z');
    writeFileSync(join(dir, 'future.eif'), image(undefined, 'future'));
    const future = await describeCli('future.eif');
    expect(future.code).toBe(1);
    expect(future.stdout).toContain('NOT YET VALID — nitro-cli refuses this image');
    expect(future.stderr).toContain('EIF_SIGNING_CERT_NOT_YET_VALID: the EIF signing certificate is valid only from 2120-01-01T00:00:00.000Z');
    // Within the validity period the same certificate is fine.
    const d = describeEif(image(undefined, 'future'), new Date('2120-06-01T00:00:00Z'));
    expect(d.signingCertificate?.validity).toBe('valid');
    expect(describeEif(image(undefined, 'expired'), new Date('2020-01-01T12:00:00Z')).signingCertificate?.problem).toBeUndefined();
  });
});
