// `attested-pack verify receipt`: exit codes, the check-by-check report, the SIMULATED
// label, and --json, on receipts made with the simulated issuer.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeBuildManifest } from '../verifier/build-manifest.ts';
import { ARTIFACT, editReceipt, makeReceipt, sampleManifest, testCa } from './receipt-fixtures.ts';
import { runCli, type CliRun } from './cli-support.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
let dir: string;
let nonceHex: string;

const run = (argv: string[]): Promise<CliRun> => runCli(argv, { cwd: dir });

const base = (): string[] => ['verify', 'receipt', 'receipt.json', '--manifest', 'manifest.json', '--root', 'root.pem'];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ap-receipt-cli-'));
  const ca = await testCa();
  const { receipt, nonce } = await makeReceipt();
  nonceHex = Buffer.from(nonce).toString('hex');
  writeFileSync(join(dir, 'receipt.json'), receipt);
  writeFileSync(join(dir, 'manifest.json'), serializeBuildManifest(sampleManifest()));
  writeFileSync(join(dir, 'other-manifest.json'), serializeBuildManifest(sampleManifest(0x50)));
  writeFileSync(join(dir, 'root.pem'), ca.rootPem);
  writeFileSync(join(dir, 'artifact.json'), ARTIFACT);
  writeFileSync(join(dir, 'other-artifact.json'), new TextEncoder().encode('{}\n'));
  writeFileSync(join(dir, 'tampered.json'), editReceipt(receipt, (j) => {
    const d = j.dsse as { payload: string };
    d.payload = Buffer.from(Buffer.from(d.payload, 'base64').toString().replace('payments-api', 'billing-api')).toString('base64');
  }));
  writeFileSync(join(dir, 'broken.json'), '{"schema":');
  writeFileSync(join(dir, 'huge.json'), Buffer.alloc(1024 * 1024 + 1, 0x20));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('attested-pack verify receipt', () => {
  it('verifies with artifact and nonce: exit 0, every check ✓, the claims, SIMULATED loudly', async () => {
    const r = await run([...base(), '--artifact', 'artifact.json', '--nonce', nonceHex]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('✗');
    expect(r.out).toMatch(/✓ dsse-signature/);
    expect(r.out).toMatch(/✓ artifact-digest/);
    expect(r.out).toMatch(/✓ pcrs/);
    expect(r.out).toMatch(/!!! SIMULATED/);
    expect(r.out).toMatch(/identity\s+payments-api/);
    expect(r.out).toMatch(/environment\s+production/);
    expect(r.out).toContain('c'.repeat(40));
    expect(r.out).toContain('arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321');
    expect(r.out).toMatch(/RESULT\s+VERIFIED — against a SIMULATED root, NOT AWS/);
  });

  it('says plainly when the artifact and nonce were not checked', async () => {
    const r = await run(base());
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/- artifact-digest\s+skipped/);
    expect(r.out).toContain('NOT checked: no --artifact');
    expect(r.out).toContain('NOT checked: no --nonce');
  });

  it('--json prints one object with the predicate', async () => {
    const r = await run([...base(), '--json', '--artifact', 'artifact.json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { ok: boolean; trust: { kind: string }; predicate: { pack: { identity: string } }; subject: { sha256: string } };
    expect(r.out.trim().split('\n')).toHaveLength(1);
    expect(j.ok).toBe(true);
    expect(j.trust.kind).toBe('simulated');
    expect(j.predicate.pack.identity).toBe('payments-api');
  });

  it('refuses (exit 1) with the failing check marked ✗ and its code', async () => {
    const cases: Array<[string[], string]> = [
      [['verify', 'receipt', 'tampered.json', '--manifest', 'manifest.json', '--root', 'root.pem'], 'USER_DATA_MISMATCH'],
      [[...base(), '--nonce', '00'.repeat(32)], 'NONCE_MISMATCH'],
      [[...base(), '--artifact', 'other-artifact.json'], 'ARTIFACT_DIGEST_MISMATCH'],
      [['verify', 'receipt', 'receipt.json', '--manifest', 'other-manifest.json', '--root', 'root.pem'], 'PCR_MISMATCH'],
      [['verify', 'receipt', 'receipt.json', '--manifest', 'manifest.json'], 'CHAIN_UNTRUSTED_ROOT'],
      [['verify', 'receipt', 'broken.json', '--manifest', 'manifest.json', '--root', 'root.pem'], 'RECEIPT_MALFORMED'],
      [['verify', 'receipt', 'huge.json', '--manifest', 'manifest.json', '--root', 'root.pem'], 'INPUT_TOO_LARGE'],
    ];
    for (const [argv, code] of cases) {
      const r = await run(argv);
      expect(r.code, code).toBe(1);
      expect(r.out).toContain('✗');
      expect(r.out).toMatch(new RegExp(`RESULT\\s+REFUSED\\s+${code}`));
      const j = await run([...argv, '--json']);
      expect((JSON.parse(j.out) as { error: { code: string } }).error.code).toBe(code);
    }
  });

  it('usage errors exit 2: no manifest, bad nonce, --pcr, unreadable files, two receipts', async () => {
    const cases: string[][] = [
      ['verify', 'receipt', 'receipt.json', '--root', 'root.pem'],
      [...base(), '--nonce', 'xyz'],
      [...base(), '--nonce', 'abc'],
      [...base(), '--pcr', `0=${'00'.repeat(48)}`],
      ['verify', 'receipt', 'missing.json', '--manifest', 'manifest.json'],
      ['verify', 'receipt', 'receipt.json', '--manifest', 'missing.json'],
      ['verify', 'receipt', 'receipt.json', '--manifest', 'receipt.json'],
      [...base(), '--artifact', 'missing.json'],
      [...base(), 'second.json'],
      [...base(), '--at', 'yesterday'],
    ];
    for (const argv of cases) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toContain('attested-pack verify receipt');
    }
  });

  it('--help documents the options and exits 0', async () => {
    const r = await run(['verify', 'receipt', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--manifest', '--artifact', '--nonce', '--at', '--root', '--allow-debug', '--json']) expect(r.out).toContain(flag);
    expect(r.out).not.toContain('--pcr');
  });

  it('runs as ./bin/attested-pack', async () => {
    const bin = join(repoRoot, 'bin', 'attested-pack');
    const { stdout } = await promisify(execFile)(process.execPath, [bin, ...base(), '--json'], { cwd: dir });
    expect((JSON.parse(stdout) as { ok: boolean }).ok).toBe(true);
    await expect(promisify(execFile)(process.execPath, [bin, ...base(), '--nonce', '00'], { cwd: dir })).rejects.toMatchObject({ code: 1 });
  });
});
