// Every known-bad policy in policy/fixtures/ is flagged with exactly its own code, and
// every lint code has such a fixture.
import { readdirSync, readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../cli/main.ts';
import { parseBuildManifest } from '../verifier/build-manifest.ts';
import { lintPolicies } from '../policy/lint.ts';
import { LINT_CODES, type LintCode } from '../policy/lint-codes.ts';
import { readPolicyFile } from '../policy/read.ts';

const dir = new URL('../policy/fixtures/', import.meta.url);
const manifestPath = fileURLToPath(new URL('manifest.json', dir));
const manifest = parseBuildManifest(readFileSync(manifestPath));
/** The enclave role every fixture names. */
const ROLE = 'arn:aws:iam::111122223333:role/enclave';
const fixtures = readdirSync(dir).filter((f) => /^KP\d{3}-.+\.json$/.test(f)).sort();

function codeOf(file: string): LintCode {
  return file.slice(0, 5) as LintCode;
}

async function cli(argv: string[]): Promise<{ code: number; out: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = await main(argv, { stdout, stderr });
  return { code, out };
}

describe('known-bad policy fixtures', () => {
  it('there is exactly one fixture per lint code', () => {
    expect(fixtures.map(codeOf)).toEqual(Object.keys(LINT_CODES).sort());
  });

  for (const file of fixtures) {
    const code = codeOf(file);
    it(`${file} is flagged ${code} and nothing else`, () => {
      const policies = readPolicyFile(readFileSync(new URL(file, dir), 'utf8'));
      const found = lintPolicies(policies, { manifest, enclaveRoleArn: ROLE });
      expect(found.length).toBeGreaterThan(0);
      expect([...new Set(found.map((f) => f.code))]).toEqual([code]);
      for (const f of found) {
        expect(f.severity).toBe(LINT_CODES[code].severity);
        expect(f.statement).not.toBeNull();
        expect(f.message.length).toBeGreaterThan(10);
        expect(f.fix.length).toBeGreaterThan(10);
      }
    });

    it(`${file}: CLI exits ${LINT_CODES[code].severity === 'error' ? 1 : 0} and reports ${code} as JSON`, async () => {
      const r = await cli(['policy', 'lint', fileURLToPath(new URL(file, dir)), '--manifest', manifestPath, '--role', ROLE, '--json']);
      expect(r.code).toBe(LINT_CODES[code].severity === 'error' ? 1 : 0);
      const report = JSON.parse(r.out) as { findings: Array<{ code: string }>; errors: number; warnings: number };
      expect(report.findings.map((f) => f.code)).toContain(code);
    });
  }

  it('KP027 needs --role: without it the same policy is clean', () => {
    const file = fixtures.find((f) => f.startsWith('KP027'));
    const policies = readPolicyFile(readFileSync(new URL(file as string, dir), 'utf8'));
    expect(lintPolicies(policies, { manifest })).toEqual([]);
  });

  it('KP010 needs the manifest: without it the same policy is clean', () => {
    const file = fixtures.find((f) => f.startsWith('KP010'));
    const policies = readPolicyFile(readFileSync(new URL(file as string, dir), 'utf8'));
    expect(lintPolicies(policies)).toEqual([]);
  });
});
