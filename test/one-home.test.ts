// One home per primitive: PCR extend (verifier/pcr.ts), sha256Hex (verifier/digest.ts), the
// verification check recorder (verifier/checks.ts), CMS OIDs and NSM types (verifier/), and
// the simulator never reaching into enclave/ (DESIGN's import table). Source files only.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { sha256Hex, sha384Hex } from '../verifier/digest.ts';
import { pcrExtend } from '../verifier/pcr.ts';
import { extendOnce } from '../build/pcrs.ts';
import { pcr3ForRoleArn } from '../policy/attestation-keys.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FOLDERS = ['verifier', 'build', 'policy', 'simulator', 'enclave', 'host', 'cli', 'reproducible'];

function sources(): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && e.name !== 'testdata') walk(p);
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && e.name !== 'test-documents.ts') {
        out.push({ path: relative(ROOT, p), text: readFileSync(p, 'utf8') });
      }
    }
  };
  for (const f of FOLDERS) walk(join(ROOT, f));
  return out;
}

const SOURCES = sources();
const where = (re: RegExp): string[] => SOURCES.filter((s) => re.test(s.text)).map((s) => s.path).sort();

describe('one home per primitive', () => {
  it('sha256Hex is defined only in verifier/digest.ts', () => {
    expect(where(/function sha256Hex\b|\bsha256Hex\s*=\s*\(/)).toEqual(['verifier/digest.ts']);
    expect(sha256Hex('abc')).toBe(createHash('sha256').update('abc').digest('hex'));
    expect(sha384Hex(new Uint8Array(1))).toBe(createHash('sha384').update(new Uint8Array(1)).digest('hex'));
  });

  it('the PCR extend (SHA-384 of previous ‖ data) is written only in verifier/pcr.ts', () => {
    expect(where(/createHash\('sha384'\)\s*\.update\([^)]*\)\s*\.update\(/)).toEqual(['verifier/pcr.ts']);
    // The users agree with it.
    const zero = new Uint8Array(48);
    const digest = createHash('sha384').update('x').digest();
    expect(Buffer.from(extendOnce([Buffer.from('x')])).equals(Buffer.from(pcrExtend(zero, digest)))).toBe(true);
    expect(pcr3ForRoleArn('arn:aws:iam::123456789012:role/Webserver')).toBe(Buffer.from(pcrExtend(zero, Buffer.from('arn:aws:iam::123456789012:role/Webserver'))).toString('hex'));
  });

  it('the verification check recorder lives only in verifier/checks.ts', () => {
    expect(where(/run<T>\(name: string, fallback/)).toEqual(['verifier/checks.ts']);
  });

  it('CMS OIDs are defined once (verifier/cms-oids.ts)', () => {
    expect(where(/OID_ENVELOPED_DATA\s*=/)).toEqual(['verifier/cms-oids.ts']);
  });

  it('simulator/ imports nothing from enclave/', () => {
    const offenders = SOURCES.filter((s) => s.path.startsWith('simulator/') && /from '(?:\.\.\/)+enclave\//.test(s.text)).map((s) => s.path);
    expect(offenders).toEqual([]);
  });

  it('no "exported for tests" export without a test in the KMS emulator', () => {
    expect(where(/[Ee]xported for tests/).filter((p) => p.startsWith('simulator/kms/'))).toEqual([]);
  });
});
