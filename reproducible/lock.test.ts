// The lock and the digest checks on fetched inputs: every refusal path.
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { parseInputsLock, loadInputsLock, type PinnedDeb } from './lock.ts';
import { fetchDeb, fetchNodeRuntime } from './fetch-inputs.ts';
import { isBuildError } from '../build/errors.ts';

const LOCK_TEXT = readFileSync(new URL('./inputs.lock.json', import.meta.url), 'utf8');

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return isBuildError(e) ? e.code : `not a BuildError: ${String(e)}`;
  }
  return 'no error';
}

describe('inputs lock', () => {
  it('parses the committed lock: every deb pinned by SHA-256, the runtime by SHA-384', () => {
    const lock = parseInputsLock(LOCK_TEXT);
    expect(lock.debs.length).toBeGreaterThan(5);
    expect(lock.debs.every((d) => /^[0-9a-f]{64}$/.test(d.sha256) && d.files.length > 0)).toBe(true);
    expect(lock.nodeRuntime.sha384).toMatch(/^[0-9a-f]{96}$/);
    expect(lock.debs.filter((d) => d.use === 'dev-blobs').map((d) => d.package).sort()).toEqual(['klibc-utils', 'libklibc', expect.stringMatching(/^linux-image-/)]);
    // The development kernel's NSM driver: decompressed from the packaged .ko.xz, pinned by SHA-384.
    const nsmKo = lock.debs.flatMap((d) => d.files).find((f) => f.to === 'nsm.ko');
    expect(nsmKo?.from).toMatch(/\/drivers\/misc\/nsm\.ko\.xz$/);
    expect(nsmKo?.xz?.sha384).toMatch(/^[0-9a-f]{96}$/);
    // The runtime's npm lockfile pins the same version with an integrity hash.
    const npmLock = JSON.parse(readFileSync(new URL('./runtime/package-lock.json', import.meta.url), 'utf8')) as { packages: Record<string, { version?: string; integrity?: string }> };
    const pkg = npmLock.packages[`node_modules/${lock.nodeRuntime.package}`];
    expect(pkg?.version).toBe(lock.nodeRuntime.version);
    expect(pkg?.integrity).toMatch(/^sha512-/);
  });

  it('refuses malformed locks', () => {
    const good = JSON.parse(LOCK_TEXT) as Record<string, unknown> & { debs: Array<Record<string, unknown>> };
    const variant = (f: (x: typeof good) => void): string => {
      const copy = JSON.parse(LOCK_TEXT) as typeof good;
      f(copy);
      return JSON.stringify(copy);
    };
    expect(code(() => parseInputsLock('not json'))).toBe('LOCK_MALFORMED');
    expect(code(() => parseInputsLock(variant((x) => { x.schema = 'other'; })))).toBe('LOCK_MALFORMED');
    expect(code(() => parseInputsLock(variant((x) => { x.debs[0]!.sha256 = 'abc'; })))).toBe('LOCK_MALFORMED');
    expect(code(() => parseInputsLock(variant((x) => { x.debs[0]!.use = 'somewhere'; })))).toBe('LOCK_MALFORMED');
    expect(code(() => parseInputsLock(variant((x) => { (x.debs[0]!.files as Array<Record<string, string>>)[0]!.to = '../escape'; })))).toBe('LOCK_MALFORMED');
    expect(code(() => parseInputsLock(variant((x) => { (x.debs[0]!.files as Array<Record<string, string>>)[0]!.to = '/abs'; })))).toBe('LOCK_MALFORMED');
    expect(code(() => parseInputsLock(variant((x) => { (x.debs[0]!.files as Array<Record<string, string>>)[0]!.mode = '755'; })))).toBe('LOCK_MALFORMED');
    expect(code(() => parseInputsLock(variant((x) => { x.sourceDateEpoch = -1; })))).toBe('LOCK_MALFORMED');
    const file0 = (x: typeof good): Record<string, string> => (x.debs[0]!.files as Array<Record<string, string>>)[0]!;
    expect(code(() => parseInputsLock(variant((x) => { file0(x).decompress = 'xz'; })))).toBe('LOCK_MALFORMED');
    expect(code(() => parseInputsLock(variant((x) => { file0(x).sha384 = 'c'.repeat(96); })))).toBe('LOCK_MALFORMED');
    expect(code(() => parseInputsLock(variant((x) => { Object.assign(file0(x), { decompress: 'gzip', sha384: 'c'.repeat(96) }); })))).toBe('LOCK_MALFORMED');
    expect(code(() => parseInputsLock(variant((x) => { file0(x).strip = 'yes'; })))).toBe('LOCK_MALFORMED');
    expect(code(() => parseInputsLock(variant((x) => { (x.nodeRuntime as Record<string, string>).sha384 = 'x'; })))).toBe('LOCK_MALFORMED');
    expect(code(() => loadInputsLock(join(tmpdir(), 'no-such-checkout')))).toBe('LOCK_MALFORMED');
  });
});

describe('fetched inputs are checked against the lock', () => {
  it('refuses a cached .deb whose SHA-256 differs, and removes it', () => {
    const cache = mkdtempSync(join(tmpdir(), 'lock-deb-'));
    try {
      const deb: PinnedDeb = { package: 'socat', version: '1.7.4.4-2', sha256: 'a'.repeat(64), use: 'rootfs', files: [] };
      const path = join(cache, 'debs', `socat_1.7.4.4-2_${'a'.repeat(16)}.deb`);
      mkdirSync(join(cache, 'debs'), { recursive: true });
      writeFileSync(path, 'not the pinned package');
      expect(code(() => fetchDeb(deb, cache, () => undefined))).toBe('INPUT_DIGEST_MISMATCH');
      expect(existsSync(path)).toBe(false);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it('refuses a file the lock names that the package does not contain', () => {
    const cache = mkdtempSync(join(tmpdir(), 'lock-file-'));
    try {
      const bytes = Buffer.from('pretend deb');
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const name = `x_1_${sha256.slice(0, 16)}.deb`;
      mkdirSync(join(cache, 'debs', `${name}.d`), { recursive: true });
      writeFileSync(join(cache, 'debs', name), bytes);
      const deb: PinnedDeb = { package: 'x', version: '1', sha256, use: 'rootfs', files: [{ from: 'usr/bin/missing', to: 'usr/bin/missing', mode: 0o755 }] };
      expect(code(() => fetchDeb(deb, cache, () => undefined))).toBe('INPUT_UNAVAILABLE');
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it('decompresses a pinned .xz file and refuses it when the result is not the pinned SHA-384', () => {
    const cache = mkdtempSync(join(tmpdir(), 'lock-xz-'));
    try {
      const bytes = Buffer.from('pretend deb');
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const name = `x_1_${sha256.slice(0, 16)}.deb`;
      const plain = Buffer.from('pretend kernel module\n');
      mkdirSync(join(cache, 'debs', `${name}.d`), { recursive: true });
      writeFileSync(join(cache, 'debs', `${name}.d`, 'm.ko.xz'), execFileSync('xz', ['--compress', '--stdout'], { input: plain }));
      writeFileSync(join(cache, 'debs', name), bytes);
      const pinned = (sha384: string): PinnedDeb => ({ package: 'x', version: '1', sha256, use: 'dev-blobs', files: [{ from: 'm.ko.xz', to: 'm.ko', mode: 0o755, xz: { sha384 } }] });
      const good = createHash('sha384').update(plain).digest('hex');
      expect(Buffer.from(fetchDeb(pinned(good), cache, () => undefined).files.get('m.ko')!.data).equals(plain)).toBe(true);
      expect(code(() => fetchDeb(pinned('d'.repeat(96)), cache, () => undefined))).toBe('INPUT_DIGEST_MISMATCH');
      writeFileSync(join(cache, 'debs', `${name}.d`, 'm.ko.xz'), 'not xz');
      expect(code(() => fetchDeb(pinned(good), cache, () => undefined))).toBe('INPUT_UNAVAILABLE');
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it('refuses a Node runtime binary whose SHA-384 differs from the lock', () => {
    const root = mkdtempSync(join(tmpdir(), 'lock-node-'));
    try {
      cpSync(new URL('./runtime', import.meta.url), join(root, 'reproducible', 'runtime'), { recursive: true });
      const lock = parseInputsLock(LOCK_TEXT);
      const lockHash = createHash('sha256').update(readFileSync(join(root, 'reproducible', 'runtime', 'package-lock.json'))).digest('hex').slice(0, 16);
      const bin = join(root, 'cache', `node-runtime-${lockHash}`, 'node_modules', lock.nodeRuntime.package, 'bin');
      mkdirSync(bin, { recursive: true });
      writeFileSync(join(bin, 'node'), 'a tampered runtime');
      expect(code(() => fetchNodeRuntime(lock, root, join(root, 'cache'), () => undefined))).toBe('INPUT_DIGEST_MISMATCH');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
