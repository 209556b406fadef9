// The build CLI commands end to end through main(): output, --json, exit codes, and every
// refusal path. One signed build checks PCR8 by hand with openssl.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { main } from '../cli/main.ts';
import { writeCpio } from '../build/cpio.ts';
import { writeEif } from '../build/eif.ts';
import { BUILD_MANIFEST_SCHEMA, serializeBuildManifest } from '../verifier/build-manifest.ts';
import { snapshotSources } from '../reproducible/source-snapshot.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CACHE = join(REPO, '.cache', 'attested-pack');

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

let dir: string;
async function cli(argv: string[], env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(argv, { stdout, stderr, cwd: dir, env });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

function eifWithApp(files: Record<string, string>, cmdline = 'console=ttyS0'): Buffer {
  const app = writeCpio(Object.entries(files).map(([path, text]) => ({ type: 'file' as const, path, data: Buffer.from(text) })), { mtime: 0 });
  const boot = writeCpio([{ type: 'file', path: 'init', data: Buffer.from('init'), mode: 0o755 }], { mtime: 0 });
  return Buffer.from(writeEif({ kernel: Buffer.from('kernel'), cmdline: Buffer.from(cmdline), metadata: Buffer.from('{}'), ramdisks: [boot, app] }));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'build-cli-'));
  writeFileSync(join(dir, 'a.eif'), eifWithApp({ 'rootfs/app/x.js': 'one', cmd: '/x\n' }));
  writeFileSync(join(dir, 'b.eif'), eifWithApp({ 'rootfs/app/x.js': 'two!', cmd: '/x\n' }));
  writeFileSync(join(dir, 'c.eif'), eifWithApp({ 'rootfs/app/x.js': 'one', cmd: '/x\n' }, 'console=ttyS0 debug'));
  const bad = eifWithApp({ cmd: '/x\n' });
  bad[548 + 12 + 2]! ^= 0xff; // a kernel byte: the file still parses, the CRC no longer matches
  writeFileSync(join(dir, 'badcrc.eif'), bad);
  writeFileSync(join(dir, 'not.eif'), 'hello');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('describe', () => {
  it('prints PCRs and sections, and --json', async () => {
    const text = await cli(['describe', 'a.eif']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/PCR0: +[0-9a-f]{96}/);
    expect(text.stdout).toMatch(/CRC-32: +[0-9a-f]{8} \(ok\)/);
    const json = await cli(['describe', 'a.eif', '--json']);
    const d = JSON.parse(json.stdout) as { eifVersion: number; sections: Array<{ type: string }>; isSigned: boolean };
    expect(d.eifVersion).toBe(4);
    expect(d.isSigned).toBe(false);
    expect(d.sections.map((s) => s.type)).toEqual(['kernel', 'cmdline', 'metadata', 'ramdisk', 'ramdisk']);
  });

  it('exits 1 on a CRC mismatch and 2 on unreadable or malformed input', async () => {
    const crc = await cli(['describe', 'badcrc.eif']);
    expect(crc.code).toBe(1);
    expect(crc.stdout).toMatch(/MISMATCH/);
    const malformed = await cli(['describe', 'not.eif']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/EIF_MALFORMED/);
    expect((await cli(['describe', 'missing.eif'])).code).toBe(2);
    expect((await cli(['describe'])).code).toBe(2);
  });
});

describe('pcr-diff', () => {
  it('names the differing ramdisk file and exits 1; equal images exit 0', async () => {
    const diff = await cli(['pcr-diff', 'a.eif', 'b.eif']);
    expect(diff.code).toBe(1);
    expect(diff.stdout).toMatch(/PCR1: same/);
    expect(diff.stdout).toMatch(/PCR2: DIFFERENT/);
    expect(diff.stdout).toMatch(/changed rootfs\/app\/x\.js \[size, sha384\]: file 0644 3 bytes .* → file 0644 4 bytes/);
    const json = JSON.parse((await cli(['pcr-diff', 'a.eif', 'b.eif', '--json'])).stdout) as { identical: boolean; changes: Array<{ section: string; files: Array<{ path: string }> }> };
    expect(json.identical).toBe(false);
    expect(json.changes[0]?.files.map((f) => f.path)).toEqual(['rootfs/app/x.js']);
    const cmdline = await cli(['pcr-diff', 'a.eif', 'c.eif']);
    expect(cmdline.code).toBe(1);
    expect(cmdline.stdout).toMatch(/PCR0: DIFFERENT/);
    expect(cmdline.stdout).toMatch(/PCR1: DIFFERENT/);
    expect(cmdline.stdout).toMatch(/PCR2: same/);
    expect(cmdline.stdout).toMatch(/cmdline differs \(feeds PCR0, PCR1\)/);
    expect(cmdline.stdout).toContain('"console=ttyS0" → "console=ttyS0 debug"');
    const same = await cli(['pcr-diff', 'a.eif', 'a.eif']);
    expect(same.code).toBe(0);
    expect((await cli(['pcr-diff', 'a.eif', 'not.eif'])).code).toBe(2);
    expect((await cli(['pcr-diff', 'a.eif'])).code).toBe(2);
  });
});

describe('build and rebuild refusals', () => {
  it('refuses inconsistent options before doing any work', async () => {
    const r1 = await cli(['build', '--sign-cert', 'c.pem']);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/--sign-cert and --sign-key go together/);
    expect((await cli(['build', '--blobs', 'x', '--dev-blobs'])).code).toBe(2);
    expect((await cli(['build', '--sign-cert', 'nope.pem', '--sign-key', 'nope.key'])).code).toBe(2);
  });

  it('refuses an incomplete nitro-cli blobs directory', async () => {
    mkdirSync(join(dir, 'blobs'), { recursive: true });
    writeFileSync(join(dir, 'blobs', 'bzImage'), 'k');
    const r = await cli(['build', '--blobs', 'blobs', '--source', REPO, '--cache', CACHE, '--out', 'out-x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/BLOBS_INVALID: .*lacks bzImage\.config/);
  });

  it('rebuild refuses a missing or malformed manifest, and a nitro-cli manifest without blobs', async () => {
    expect((await cli(['rebuild'])).code).toBe(2);
    writeFileSync(join(dir, 'bad.json'), '{"schema":"nope"}');
    const bad = await cli(['rebuild', '--manifest', 'bad.json']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/MANIFEST_MALFORMED/);
    const hex = 'ab'.repeat(48);
    writeFileSync(join(dir, 'nitro.json'), serializeBuildManifest({
      schema: BUILD_MANIFEST_SCHEMA,
      project: { name: 'attested-pack', version: '0.1.0', sourceCommit: '0'.repeat(40), sourceDirty: false },
      blobSet: { kind: 'nitro-cli', description: 'nitro-cli blobs' },
      sourceDateEpoch: 0,
      inputs: [],
      eif: { file: 'attested-pack.eif', sha384: hex, size: 1 },
      pcrs: { '0': hex, '1': hex, '2': hex },
      trustPolicy: null,
    }));
    const nitro = await cli(['rebuild', '--manifest', 'nitro.json', '--source', REPO], { PATH: process.env.PATH ?? '', NITRO_CLI_BLOBS: join(dir, 'no-blobs-here') });
    expect(nitro.code).toBe(2);
    expect(nitro.stderr).toMatch(/BLOBS_INVALID: .*nitro-cli blobs/);
  });
});

describe('signed build', () => {
  it('writes a signed EIF whose PCR8 is the extend of the certificate DER (openssl by hand)', async () => {
    const openssl = (args: string[]): Buffer => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp384r1', '-nodes', '-keyout', 'sign.key', '-out', 'sign.pem', '-days', '7', '-subj', '/CN=attested-pack test signer']);
    // A frozen snapshot: the working tree may change between the build and the rebuild.
    const src = join(dir, 'src');
    await snapshotSources(REPO, src);
    const built = await cli(['build', '--dev-blobs', '--source', src, '--cache', CACHE, '--out', 'signed', '--sign-cert', 'sign.pem', '--sign-key', 'sign.key', '--json']);
    expect(built.stderr).not.toMatch(/error/i);
    expect(built.code).toBe(0);
    const out = JSON.parse(built.stdout) as { pcrs: Record<string, string>; blobSet: string };
    expect(out.blobSet).toBe('development');
    writeFileSync(join(dir, 'cert.der'), openssl(['x509', '-in', 'sign.pem', '-outform', 'DER']));
    writeFileSync(join(dir, 'pcr8.in'), Buffer.concat([Buffer.alloc(48), openssl(['dgst', '-sha384', '-binary', 'cert.der'])]));
    const pcr8 = openssl(['dgst', '-sha384', '-binary', 'pcr8.in']).toString('hex');
    expect(out.pcrs['8']).toBe(pcr8);
    const manifest = JSON.parse(readFileSync(join(dir, 'signed', 'build-manifest.json'), 'utf8')) as { pcrs: Record<string, string>; signingCertificateSha256: string };
    expect(manifest.pcrs['8']).toBe(pcr8);
    expect(manifest.signingCertificateSha256).toBe(openssl(['dgst', '-sha256', '-binary', 'cert.der']).toString('hex'));
    const described = JSON.parse((await cli(['describe', join('signed', 'attested-pack.eif'), '--json'])).stdout) as { pcrs: Record<string, string>; signatureCheck: boolean; signingCertificate: { subject: string } };
    expect(described.pcrs).toEqual(manifest.pcrs);
    expect(described.signatureCheck).toBe(true);
    expect(described.signingCertificate.subject).toContain('attested-pack test signer');

    // rebuild checks PCR8 from the certificate alone; the EIF digest cannot match (ECDSA is randomised).
    const rebuilt = await cli(['rebuild', '--manifest', join('signed', 'build-manifest.json'), '--source', src, '--cache', CACHE, '--sign-cert', 'sign.pem', '--json']);
    expect(rebuilt.code).toBe(0);
    const report = JSON.parse(rebuilt.stdout) as { match: boolean; checks: Array<{ what: string; ok: boolean }>; notes: string[] };
    expect(report.checks.find((c) => c.what === 'PCR8')?.ok).toBe(true);
    expect(report.checks.some((c) => c.what === 'EIF sha384')).toBe(false);
    expect(report.notes.join(' ')).toMatch(/randomised ECDSA/);
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp384r1', '-nodes', '-keyout', 'other.key', '-out', 'other.pem', '-days', '7', '-subj', '/CN=someone else']);
    const wrong = await cli(['rebuild', '--manifest', join('signed', 'build-manifest.json'), '--source', src, '--cache', CACHE, '--sign-cert', 'other.pem']);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(/DIFF PCR8/);
  }, 600_000);

  it('refuses a malformed SOURCE_DATE_EPOCH', async () => {
    const r = await cli(['build', '--dev-blobs', '--source', REPO, '--cache', CACHE, '--out', 'epoch'], { PATH: process.env.PATH ?? '', SOURCE_DATE_EPOCH: 'yesterday' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/SOURCE_DATE_EPOCH/);
  });
});
