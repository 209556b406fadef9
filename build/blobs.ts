// The kernel/init "blob set" that makes the bootstrap ramdisk and kernel sections. nitro-cli
// ships it in /usr/share/nitro_enclaves/blobs (or $NITRO_CLI_BLOBS): bzImage, bzImage.config,
// cmdline, init, nsm.ko. The bootstrap ramdisk is exactly `dev/`, `init`, `nsm.ko`
// (enclave_build/src/yaml_generator.rs, all 0755). A development blob set (reproducible/
// dev-blobs.ts) may add files, and says so in its kind.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildFail } from './errors.ts';
import type { CpioEntry } from './cpio.ts';

export const DEFAULT_NITRO_CLI_BLOBS = '/usr/share/nitro_enclaves/blobs';
export const BLOB_FILES = ['bzImage', 'bzImage.config', 'cmdline', 'init', 'nsm.ko'] as const;

export interface BlobSet {
  kind: 'nitro-cli' | 'development';
  description: string;
  kernel: Uint8Array;
  kernelConfig: Uint8Array;
  /** Trimmed command line, as nitro-cli reads the file. */
  cmdline: string;
  init: Uint8Array;
  nsmKo: Uint8Array;
  /** Extra bootstrap-ramdisk files (development blob sets only). */
  extraBootstrapFiles: Array<{ path: string; data: Uint8Array; mode: number }>;
  /** Where each blob came from, for the manifest (name → source). */
  sources: Record<string, string>;
}

/** The nitro-cli blobs directory to use, or undefined when none is installed. */
export function findNitroCliBlobs(env: NodeJS.ProcessEnv): string | undefined {
  const dir = env.NITRO_CLI_BLOBS ?? DEFAULT_NITRO_CLI_BLOBS;
  return existsSync(join(dir, 'bzImage')) ? dir : undefined;
}

export function loadNitroCliBlobs(dir: string): BlobSet {
  const read = (name: string): Uint8Array => {
    try {
      return readFileSync(join(dir, name));
    } catch (e) {
      buildFail('BLOBS_INVALID', `blob set ${dir} lacks ${name}: ${(e as Error).message}`);
    }
  };
  const [kernel, kernelConfig, cmdline, init, nsmKo] = BLOB_FILES.map(read) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  return {
    kind: 'nitro-cli',
    description: `nitro-cli blobs from ${dir}`,
    kernel, kernelConfig, cmdline: checkCmdline(Buffer.from(cmdline).toString('utf8')), init, nsmKo,
    extraBootstrapFiles: [],
    sources: Object.fromEntries(BLOB_FILES.map((f) => [f, `nitro-cli blobs/${f}`])),
  };
}

export function checkCmdline(text: string): string {
  const trimmed = text.trim();
  if (trimmed.length === 0 || /[\0\n\r]/.test(trimmed)) buildFail('BLOBS_INVALID', 'kernel command line must be one non-empty line');
  return trimmed;
}

export function bootstrapRamdiskEntries(blobs: BlobSet): CpioEntry[] {
  return [
    { type: 'dir', path: 'dev', mode: 0o755 },
    { type: 'file', path: 'init', data: blobs.init, mode: 0o755 },
    { type: 'file', path: 'nsm.ko', data: blobs.nsmKo, mode: 0o755 },
    ...blobs.extraBootstrapFiles.map((f): CpioEntry => ({ type: 'file', path: f.path, data: f.data, mode: f.mode })),
  ];
}
