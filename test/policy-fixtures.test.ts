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

/** Proved properties: a fail-open fixture also gets the property it breaks, with its counterexample. */
const PROPERTY_CODES = new Set<string>(['KP030', 'KP031', 'KP032']);

/** Every fixture is a sops-key policy but KP031's (an envelope key). */
function kindOf(file: string): 'sops' | 'envelope' {
  return file.startsWith('KP031') ? 'envelope' : 'sops';
}

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
    it(`${file} is flagged ${code} and otherwise only with proved properties`, () => {
      const policies = readPolicyFile(readFileSync(new URL(file, dir), 'utf8'));
      const found = lintPolicies(policies, { manifest, enclaveRoleArn: ROLE, key: kindOf(file) });
      expect(found.map((f) => f.code)).toContain(code);
      expect(found.filter((f) => f.code !== code && !PROPERTY_CODES.has(f.code))).toEqual([]);
      for (const f of found) {
        expect(f.severity).toBe(LINT_CODES[f.code].severity);
        if (PROPERTY_CODES.has(f.code)) {
          expect(f.counterexample).toBeDefined();
          expect(f.message).toContain('Counterexample:');
          continue;
        }
        expect(f.statement).not.toBeNull();
        expect(f.message.length).toBeGreaterThan(10);
        expect(f.fix.length).toBeGreaterThan(10);
      }
    });

    it(`${file}: CLI exit code follows the severities and reports ${code} as JSON`, async () => {
      const r = await cli(['policy', 'lint', fileURLToPath(new URL(file, dir)), '--manifest', manifestPath, '--role', ROLE, '--key', kindOf(file), '--json']);
      const report = JSON.parse(r.out) as { findings: Array<{ code: LintCode }>; errors: number; warnings: number };
      expect(report.findings.map((f) => f.code)).toContain(code);
      expect(r.code).toBe(report.findings.some((f) => LINT_CODES[f.code].severity === 'error') ? 1 : 0);
    });
  }

  it('KP027 (a pattern) needs --role; the proved property KP030 does not: lint derives every principal', () => {
    const file = fixtures.find((f) => f.startsWith('KP027'));
    const policies = readPolicyFile(readFileSync(new URL(file as string, dir), 'utf8'));
    expect(lintPolicies(policies, { manifest, key: 'sops' }).map((f) => f.code)).toEqual(['KP030']);
  });

  it('KP010 needs the manifest: without it the policy is proved against the image it pins', () => {
    const file = fixtures.find((f) => f.startsWith('KP010'));
    const policies = readPolicyFile(readFileSync(new URL(file as string, dir), 'utf8'));
    expect(lintPolicies(policies)).toEqual([]);
    expect([...new Set(lintPolicies(policies, { manifest }).map((f) => f.code))].sort()).toEqual(['KP010', 'KP030']);
  });
});
