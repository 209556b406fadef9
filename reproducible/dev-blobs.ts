// The DEVELOPMENT blob set, used where nitro-cli's blobs are not installed so the whole
// pipeline can run and boot under QEMU: Debian's kernel (vmlinuz + config from a pinned
// linux-image package), a few klibc tools (sh, mount, chroot, mkdir, nuke, reboot and
// their 75 KB library — a tenth of busybox-static), and our own init script and command
// line (reproducible/dev-blobs/). It cannot run in a real enclave (no NSM driver, no vsock
// heartbeat) and every manifest built with it says blobSet.kind = "development".
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildFail } from '../build/errors.ts';
import { checkCmdline, type BlobSet } from '../build/blobs.ts';
import type { FetchedDeb } from './fetch-inputs.ts';

export function developmentBlobSet(sourceRoot: string, devDebs: FetchedDeb[]): BlobSet {
  const files = new Map<string, { data: Uint8Array; mode: number; source: string }>();
  for (const d of devDebs) for (const [to, f] of d.files) files.set(to, { ...f, source: `deb:${d.deb.package}=${d.deb.version}` });
  const need = (name: string): { data: Uint8Array; mode: number; source: string } => {
    const f = files.get(name);
    if (f === undefined) buildFail('BLOBS_INVALID', `the development blob set needs ${name} from a dev-blobs package in the lock`);
    return f;
  };
  const dir = join(sourceRoot, 'reproducible', 'dev-blobs');
  const kernel = need('bzImage');
  const config = need('bzImage.config');
  // Everything else the dev-blobs packages provide goes into the bootstrap ramdisk as is.
  const tools = [...files].filter(([to]) => to !== 'bzImage' && to !== 'bzImage.config').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (!files.has('bin/sh')) need('bin/sh');
  return {
    kind: 'development',
    description: `DEVELOPMENT blob set (QEMU only, not bootable in a Nitro Enclave): Debian kernel from ${kernel.source}, ${[...new Set(tools.map(([, f]) => f.source))].join(', ')}, init and cmdline from reproducible/dev-blobs`,
    kernel: kernel.data,
    kernelConfig: config.data,
    cmdline: checkCmdline(readFileSync(join(dir, 'cmdline'), 'utf8')),
    init: readFileSync(join(dir, 'init')),
    nsmKo: readFileSync(join(dir, 'nsm-placeholder.txt')),
    extraBootstrapFiles: tools.map(([path, f]) => ({ path, data: f.data, mode: f.mode })),
    sources: {
      bzImage: kernel.source,
      'bzImage.config': config.source,
      cmdline: 'reproducible/dev-blobs/cmdline',
      init: 'reproducible/dev-blobs/init',
      'nsm.ko': 'reproducible/dev-blobs/nsm-placeholder.txt',
      ...Object.fromEntries(tools.map(([path, f]) => [path, f.source])),
    },
  };
}
