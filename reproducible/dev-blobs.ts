// The DEVELOPMENT blob set, used where nitro-cli's blobs are not installed so the whole
// pipeline can run and boot under QEMU: Debian's backports kernel (vmlinuz + config from a
// pinned linux-image package) and its NSM driver (drivers/misc/nsm.ko, which talks to
// QEMU's virtio-nsm-pci the way AWS's driver talks to the Nitro NSM), a few klibc tools
// (sh, mount, chroot, mkdir, nuke, reboot, insmod and their 75 KB library — a tenth of
// busybox-static), and our own init script and command line (reproducible/dev-blobs/).
// It cannot run in a real enclave (not AWS's kernel, no vsock heartbeat) and every
// manifest built with it says blobSet.kind = "development".
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
  const nsmKo = need('nsm.ko');
  const tools = [...files].filter(([to]) => to !== 'bzImage' && to !== 'bzImage.config' && to !== 'nsm.ko').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // The init script needs these; a lock without them would build an image that cannot boot.
  for (const tool of ['bin/sh', 'bin/insmod']) need(tool);
  return {
    kind: 'development',
    description: `DEVELOPMENT blob set (QEMU only, not bootable in a Nitro Enclave): Debian kernel from ${kernel.source} with its nsm.ko, ${[...new Set(tools.map(([, f]) => f.source))].join(', ')}, init and cmdline from reproducible/dev-blobs`,
    kernel: kernel.data,
    kernelConfig: config.data,
    cmdline: checkCmdline(readFileSync(join(dir, 'cmdline'), 'utf8')),
    init: readFileSync(join(dir, 'init')),
    nsmKo: nsmKo.data,
    extraBootstrapFiles: tools.map(([path, f]) => ({ path, data: f.data, mode: f.mode })),
    sources: {
      bzImage: kernel.source,
      'bzImage.config': config.source,
      cmdline: 'reproducible/dev-blobs/cmdline',
      init: 'reproducible/dev-blobs/init',
      'nsm.ko': nsmKo.source,
      ...Object.fromEntries(tools.map(([path, f]) => [path, f.source])),
    },
  };
}
