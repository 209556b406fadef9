// The application ramdisk in the layout nitro-cli's init expects (enclave_build/src/
// yaml_generator.rs, docker.rs): the image's files under `rootfs/`, empty
// `rootfs/{dev,run,sys,var,proc,tmp}` (0755), and top-level `cmd` and `env` (0644). `cmd`
// has one argv element per "\n"-ended line, `env` one KEY=VALUE per line; init reads them
// without any quoting, so neither may contain a newline.
import { buildFail } from './errors.ts';
import type { CpioEntry } from './cpio.ts';

export type RootfsEntry =
  | { type: 'file'; path: string; data: Uint8Array; mode: number }
  | { type: 'dir'; path: string; mode: number }
  | { type: 'symlink'; path: string; target: string };

export interface AppImage {
  /** Paths relative to the image root (no leading slash). */
  rootfs: RootfsEntry[];
  cmd: readonly string[];
  env: ReadonlyArray<readonly [string, string]>;
}

export const INIT_MOUNT_POINTS = ['dev', 'run', 'sys', 'var', 'proc', 'tmp'] as const;

export function cmdFile(cmd: readonly string[]): string {
  if (cmd.length === 0) buildFail('CPIO_INVALID', 'the image command is empty');
  for (const arg of cmd) if (arg.includes('\n') || arg.includes('\0')) buildFail('CPIO_INVALID', `command argument ${JSON.stringify(arg)} contains a newline or NUL`);
  return cmd.map((a) => `${a}\n`).join('');
}

export function envFile(env: ReadonlyArray<readonly [string, string]>): string {
  for (const [k, v] of env) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) buildFail('CPIO_INVALID', `environment name ${JSON.stringify(k)} is not a portable variable name`);
    if (v.includes('\n') || v.includes('\0')) buildFail('CPIO_INVALID', `environment value of ${k} contains a newline or NUL`);
  }
  return env.map(([k, v]) => `${k}=${v}\n`).join('');
}

export function appRamdiskEntries(app: AppImage): CpioEntry[] {
  const entries: CpioEntry[] = app.rootfs.map((e): CpioEntry => {
    const path = `rootfs/${e.path}`;
    return e.type === 'symlink' ? { type: 'symlink', path, target: e.target } : e.type === 'dir' ? { type: 'dir', path, mode: e.mode } : { type: 'file', path, data: e.data, mode: e.mode };
  });
  for (const d of INIT_MOUNT_POINTS) {
    if (!app.rootfs.some((e) => e.path === d)) entries.push({ type: 'dir', path: `rootfs/${d}`, mode: 0o755 });
  }
  entries.push({ type: 'dir', path: 'rootfs', mode: 0o755 });
  entries.push({ type: 'file', path: 'cmd', data: Buffer.from(cmdFile(app.cmd)), mode: 0o644 });
  entries.push({ type: 'file', path: 'env', data: Buffer.from(envFile(app.env)), mode: 0o644 });
  return entries;
}
