import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, statSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCpio, writeCpio, type CpioEntry } from './cpio.ts';
import { BuildError } from './errors.ts';
import { codeOf } from '../test/error-codes.ts';

const entries: CpioEntry[] = [
  { type: 'file', path: 'rootfs/usr/bin/tool', data: Buffer.from('#!/bin/sh\necho hi\n'), mode: 0o755 },
  { type: 'file', path: 'cmd', data: Buffer.from('/usr/bin/tool\n') },
  { type: 'dir', path: 'rootfs/tmp', mode: 0o1777 },
  { type: 'symlink', path: 'rootfs/bin', target: 'usr/bin' },
  { type: 'file', path: 'rootfs/a-b', data: new Uint8Array(5) },
  { type: 'file', path: 'rootfs/empty', data: new Uint8Array(0) },
];

const expectCode = (fn: () => unknown, code: string): void => {
  expect(codeOf(fn, BuildError)).toBe(code);
};

describe('writeCpio', () => {
  it('is independent of input order and sorts paths bytewise with parents first', () => {
    const a = writeCpio(entries, { mtime: 1700000000 });
    const b = writeCpio([...entries].reverse(), { mtime: 1700000000 });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    const paths = readCpio(a).map((r) => r.path);
    expect(paths).toEqual(['cmd', 'rootfs', 'rootfs/a-b', 'rootfs/bin', 'rootfs/empty', 'rootfs/tmp', 'rootfs/usr', 'rootfs/usr/bin', 'rootfs/usr/bin/tool']);
    expect(a.length % 4).toBe(0);
  });

  it('fixes uid, gid, mtime, inode numbers and modes', () => {
    const recs = readCpio(writeCpio(entries, { mtime: 42 }));
    expect(recs.every((r) => r.uid === 0 && r.gid === 0 && r.mtime === 42)).toBe(true);
    expect(recs.map((r) => r.ino)).toEqual(recs.map((_, i) => i + 1));
    const mode = (p: string) => recs.find((r) => r.path === p)?.mode.toString(8);
    expect(mode('cmd')).toBe('100644');
    expect(mode('rootfs/usr/bin/tool')).toBe('100755');
    expect(mode('rootfs/usr')).toBe('40755');
    expect(mode('rootfs/tmp')).toBe('41777');
    expect(mode('rootfs/bin')).toBe('120777');
  });

  it('matches what GNU cpio lists and extracts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cpio-test-'));
    try {
      const archive = join(dir, 'a.cpio');
      writeFileSync(archive, writeCpio(entries, { mtime: 1700000000 }));
      const listing = execFileSync('cpio', ['-t', '--quiet', '-F', archive]).toString().trim().split('\n');
      expect(listing).toEqual(readCpio(readFileSync(archive)).map((r) => r.path));
      const verbose = execFileSync('cpio', ['-tv', '--quiet', '-F', archive], { env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } }).toString();
      expect(verbose).toMatch(/-rwxr-xr-x +1 root +root +18 Nov 14 +2023 rootfs\/usr\/bin\/tool/);
      const out = join(dir, 'x');
      execFileSync('sh', ['-c', `mkdir "${out}" && cd "${out}" && cpio -idm --quiet --no-absolute-filenames -F "${archive}"`]);
      expect(readFileSync(join(out, 'rootfs/usr/bin/tool'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
      expect(readFileSync(join(out, 'cmd'), 'utf8')).toBe('/usr/bin/tool\n');
      expect(statSync(join(out, 'rootfs/usr/bin/tool')).mode & 0o777).toBe(0o755);
      expect(statSync(join(out, 'rootfs/usr/bin/tool')).mtimeMs).toBe(1700000000 * 1000);
      expect(readlinkSync(join(out, 'rootfs/bin'))).toBe('usr/bin');
      expect(statSync(join(out, 'rootfs/empty')).size).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses unsafe or ambiguous entries', () => {
    const f = (path: string): CpioEntry => ({ type: 'file', path, data: new Uint8Array(1) });
    expectCode(() => writeCpio([f('/etc/passwd')], { mtime: 0 }), 'CPIO_INVALID');
    expectCode(() => writeCpio([f('a/../b')], { mtime: 0 }), 'CPIO_INVALID');
    expectCode(() => writeCpio([f('a//b')], { mtime: 0 }), 'CPIO_INVALID');
    expectCode(() => writeCpio([f('a'), f('a')], { mtime: 0 }), 'CPIO_INVALID');
    expectCode(() => writeCpio([f('a'), f('a/b')], { mtime: 0 }), 'CPIO_INVALID');
    expectCode(() => writeCpio([f('a')], { mtime: -1 }), 'CPIO_INVALID');
    expectCode(() => writeCpio([{ type: 'symlink', path: 'l', target: '' }], { mtime: 0 }), 'CPIO_INVALID');
  });
});

describe('readCpio', () => {
  it('refuses other formats and truncated archives', () => {
    const good = writeCpio(entries, { mtime: 0 });
    expectCode(() => readCpio(good.subarray(0, 200)), 'CPIO_INVALID');
    const odc = Buffer.from(good);
    odc.write('070707', 0, 'ascii');
    expectCode(() => readCpio(odc), 'CPIO_INVALID');
    expectCode(() => readCpio(new Uint8Array(0)), 'CPIO_INVALID');
  });

  it('reads archives written by GNU cpio', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cpio-gnu-'));
    try {
      writeFileSync(join(dir, 'hello'), 'hello world\n');
      const archive = execFileSync('sh', ['-c', `cd "${dir}" && echo hello | cpio -o -H newc --quiet`]);
      const recs = readCpio(archive);
      expect(recs.map((r) => r.path)).toEqual(['hello']);
      expect(Buffer.from(recs[0]!.data).toString()).toBe('hello world\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
