// The image's root filesystem works on its own: chroot into the staged rootfs (exactly the
// application ramdisk's rootfs/) and run what the image runs. Catches a missing shared
// library, a wrong interpreter path or an unloadable native addon in seconds, without QEMU.
// Needs root for chroot (CI runs as root). Nothing here touches vsock: the chroot has no /dev.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildImage } from '../reproducible/build-image.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CACHE = join(REPO, '.cache', 'attested-pack');
const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('image root filesystem (chroot)', () => {
  let dir: string;
  let stage: string;
  // The chrooted process gets exactly `env` (as the image's init gives exactly its env lines).
  const chroot = spawnSync('sh', ['-c', 'command -v chroot'], { encoding: 'utf8' }).stdout.trim();
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(chroot, [stage, ...args], { env, encoding: 'utf8', timeout: 60_000 });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rootfs-'));
    stage = join(dir, 'rootfs');
    await buildImage({ sourceRoot: REPO, cacheDir: CACHE, developmentBlobs: true, rootfsDir: stage });
    for (const d of ['run', 'tmp']) mkdirSync(join(stage, d), { recursive: true });
  }, 600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the pinned Node runtime and socat with only the libraries the image carries', () => {
    const node = run(['/usr/bin/node', '--version']);
    expect(node.stderr).toBe('');
    expect(node.stdout.trim()).toBe('v22.23.3');
    const socat = run(['/usr/bin/socat', '-V']);
    expect(socat.status).toBe(0);
    expect(socat.stdout).toMatch(/socat version 1\.7\.4\.4/);
    expect(socat.stdout).toMatch(/#define WITH_VSOCK 1/);
  });

  it('loads koffi (the /dev/nsm FFI) from the image and calls into libc', () => {
    writeFileSync(join(stage, 'app', 'probe.mjs'), "const koffi = (await import('koffi')).default;\nconst getpid = koffi.load('libc.so.6').func('int getpid()');\nconsole.log(`koffi ${koffi.version} getpid ${getpid()}`);\n");
    const probe = run(['/usr/bin/node', '/app/probe.mjs']);
    expect(probe.stderr).toBe('');
    expect(probe.stdout).toMatch(/^koffi 3\.\d+\.\d+ getpid \d+$/m);
  });

  it('starts the service, which in hardware mode refuses to run without /dev/nsm', () => {
    const hw = run(['/usr/bin/node', '/app/enclave.mjs'], { ATTESTED_PACK_NSM: 'hardware', ATTESTED_PACK_SOCKET: '/run/s.sock' });
    expect(hw.status).toBe(1);
    expect(hw.stderr).toMatch(/\/dev\/nsm/);
  });
});
