// `attested-pack policy generate` / `policy lint` through the real dispatcher.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli, type CliRun } from './cli-support.ts';

const manifestPath = fileURLToPath(new URL('../policy/fixtures/manifest.json', import.meta.url));
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { pcrs: Record<string, string> };
const ROLE = 'arn:aws:iam::111122223333:role/enclave';
const ADMIN = 'arn:aws:iam::111122223333:role/admin';
const BASE = ['policy', 'generate', '--manifest', manifestPath, '--role', ROLE, '--admin', ADMIN];
const work = mkdtempSync(join(tmpdir(), 'policy-cli-'));

const run = (argv: string[]): Promise<CliRun> => runCli(argv, { cwd: work });

describe('policy generate', () => {
  it('writes all three policies as JSON by default, keyed by kind', async () => {
    const r = await run([...BASE, '--readers', 'arn:aws:iam::111122223333:role/a,arn:aws:iam::111122223333:role/b']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out) as Record<string, { Statement: Array<{ Sid: string; Principal: unknown }> }>;
    expect(Object.keys(out)).toEqual(['sops', 'envelope', 'signing']);
    const readers = out.envelope?.Statement.find((s) => s.Sid === 'RuntimesUnwrapArtifactDataKeys');
    expect(readers?.Principal).toEqual({ AWS: ['arn:aws:iam::111122223333:role/a', 'arn:aws:iam::111122223333:role/b'] });
    expect(r.out).toContain(manifest.pcrs['0']);
  });

  it('--key sops writes the bare policy, which lint accepts (exit 0)', async () => {
    const r = await run([...BASE, '--key', 'sops', '--pcr3', ROLE, '--pin-pcr8']);
    expect(r.code).toBe(0);
    const policy = JSON.parse(r.out) as { Statement: Array<{ Sid: string }> };
    expect(policy.Statement.map((s) => s.Sid)).toContain('DenyDecryptUnlessAttestedPCR8');
    const file = join(work, 'sops.json');
    writeFileSync(file, r.out);
    const lint = await run(['policy', 'lint', 'sops.json', '--manifest', manifestPath, '--role', ROLE]);
    expect(lint.code).toBe(0);
    expect(lint.out).toContain('0 error(s), 0 warning(s)');
  });

  it('cloudformation and terraform outputs lint clean from a file', async () => {
    for (const [format, name] of [['cloudformation', 'keys.yaml'], ['terraform', 'keys.tf']] as const) {
      const r = await run([...BASE, '--format', format, '--readers', 'arn:aws:iam::111122223333:role/runtime']);
      expect(r.code).toBe(0);
      expect(r.out).toContain(format === 'terraform' ? 'resource "aws_kms_key" "attested_pack_sops"' : 'Type: AWS::KMS::Key');
      writeFileSync(join(work, name), r.out);
      // Without --role the envelope and signing properties cannot be stated: lint refuses (exit 2).
      const noRole = await run(['policy', 'lint', name, '--manifest', manifestPath, '--json']);
      expect(noRole.code).toBe(2);
      expect(noRole.err).toContain('CANNOT_LINT');
      const lint = await run(['policy', 'lint', name, '--manifest', manifestPath, '--role', ROLE, '--json']);
      expect(lint.code).toBe(0);
      expect(JSON.parse(lint.out)).toMatchObject({ findings: [], errors: 0, warnings: 0 });
    }
  });

  it('notes on stderr when a key has no readers', async () => {
    const r = await run([...BASE, '--key', 'envelope']);
    expect(r.code).toBe(0);
    expect(r.err).toContain('no --readers');
  });

  it('notes options that do not apply to the chosen keys', async () => {
    const r = await run([...BASE, '--key', 'sops', '--readers', 'arn:aws:iam::111122223333:role/r']);
    expect(r.code).toBe(0);
    expect(r.err).toContain('--readers applies to the envelope and signing keys');
    const e = await run([...BASE, '--key', 'signing', '--editors', 'arn:aws:iam::111122223333:user/a', '--readers', 'arn:aws:iam::111122223333:role/r']);
    expect(e.err).toContain('--editors only applies to the sops key');
  });

  it('usage errors exit 2', async () => {
    expect((await run(['policy', 'generate', '--role', ROLE, '--admin', ADMIN])).err).toContain('--manifest is required');
    expect((await run(['policy', 'generate', '--manifest', manifestPath, '--admin', ADMIN])).code).toBe(2);
    expect((await run(['policy', 'generate', '--manifest', manifestPath, '--role', ROLE])).err).toContain('--admin is required');
    expect((await run([...BASE, '--format', 'yaml'])).err).toContain('--format must be one of');
    expect((await run([...BASE, '--key', 'dek'])).err).toContain('--key must be one of');
    const r = await run([...BASE, '--key', 'envelope', '--pin-pcr8']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('apply to the sops key');
    const missing = await run(['policy', 'generate', '--manifest', 'nope.json', '--role', ROLE, '--admin', ADMIN]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('cannot read build manifest nope.json');
  });

  it('refusals from generation exit 2 with their code', async () => {
    const bad = await run(['policy', 'generate', '--manifest', manifestPath, '--role', 'arn:aws:iam::111122223333:user/x', '--admin', ADMIN]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('INVALID_ARN');
    const same = await run(['policy', 'generate', '--manifest', manifestPath, '--role', ROLE, '--admin', ROLE]);
    expect(same.err).toContain('INVALID_INPUT');
    writeFileSync(join(work, 'bad-manifest.json'), '{"schema": "nope"}');
    const m = await run(['policy', 'generate', '--manifest', 'bad-manifest.json', '--role', ROLE, '--admin', ADMIN]);
    expect(m.code).toBe(2);
    expect(m.err).toContain('MANIFEST_MALFORMED');
  });
});

describe('policy lint', () => {
  it('prints findings with code, statement, message and fix; exits 1 on errors', async () => {
    const fixture = fileURLToPath(new URL('../policy/fixtures/KP001-allow-without-deny.json', import.meta.url));
    const r = await run(['policy', 'lint', fixture]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^error KP001 policy Statement\[1\] \(EnclaveDecryptWhenAttested\): /m);
    expect(r.out).toContain('  fix: ');
  });

  it('exits 0 with warnings only', async () => {
    const fixture = fileURLToPath(new URL('../policy/fixtures/KP015-missing-sid.json', import.meta.url));
    const r = await run(['policy', 'lint', fixture, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ errors: 0, warnings: 1 });
  });

  it('exits 2 on unreadable or malformed input', async () => {
    expect((await run(['policy', 'lint', 'missing.json'])).code).toBe(2);
    writeFileSync(join(work, 'junk.json'), '{"Statement": [{"Effect": "Perhaps"}]}');
    const r = await run(['policy', 'lint', 'junk.json']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('POLICY_MALFORMED');
    expect((await run(['policy', 'lint'])).code).toBe(2);
  });

  it('lists every code in --help', async () => {
    const r = await run(['policy', 'lint', '--help']);
    expect(r.code).toBe(0);
    for (let i = 1; i <= 29; i++) expect(r.out).toContain(`KP${String(i).padStart(3, '0')}`);
  });
});
