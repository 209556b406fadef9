// Booting the development image under QEMU with virtio-nsm (QEMU >= 10, built once and
// cached outside the clone by reproducible/qemu-nsm/build-qemu.sh, which .ci/run calls).
// TCG, no KVM. The EIF's ramdisks are concatenated into one initrd, as the enclave loader
// places them back to back in memory; extra cpio archives appended after them overlay files
// (the kernel unpacks them in order), which is how the guest probe gets in.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUILD_SCRIPT = fileURLToPath(new URL('../reproducible/qemu-nsm/build-qemu.sh', import.meta.url));

export interface QemuNsm {
  binary: string;
  /** Firmware directory for -L (SeaBIOS, QEMU's -kernel option ROMs). */
  firmware: string;
}

/** The cached QEMU; a clear error when it has not been built yet (no build inside a test). */
export function cachedQemuNsm(): QemuNsm {
  const r = spawnSync('bash', [BUILD_SCRIPT, '--check'], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error('QEMU with virtio-nsm is not built yet: run reproducible/qemu-nsm/build-qemu.sh once (as root; .ci/run does, ~10-40 min the first time)');
  }
  const dir = r.stdout.trim();
  return { binary: join(dir, 'bin', 'qemu-system-x86_64'), firmware: join(dir, 'share') };
}

export interface BootOptions {
  kernel: string;
  initrd: string;
  cmdline: string;
  /** Attach -device virtio-nsm-pci. */
  nsm: boolean;
  /** Host side of ttyS1 (the development serial bridge), a Unix socket path. */
  serialSocket?: string;
}

export interface Boot {
  /** Everything the guest printed on ttyS0 (and QEMU on stderr) so far. */
  console(): string;
  exited: Promise<number | null>;
  /** Resolves true once the console contains `text`, false if QEMU exits or time runs out first. */
  waitFor(text: string, timeoutMs: number): Promise<boolean>;
  kill(): void;
}

export function bootImage(qemu: QemuNsm, opts: BootOptions): Boot {
  const args = [
    '-L', qemu.firmware, '-M', 'pc', '-accel', 'tcg', '-cpu', 'max', '-m', '2048', '-smp', '2',
    '-nodefaults', '-nographic', '-monitor', 'none', '-no-reboot', '-nic', 'none', '-vga', 'none',
    '-kernel', opts.kernel, '-initrd', opts.initrd, '-append', opts.cmdline,
    '-serial', 'stdio',
    '-serial', opts.serialSocket === undefined ? 'null' : `unix:${opts.serialSocket},server=on,wait=off`,
    ...(opts.nsm ? ['-device', 'virtio-nsm-pci'] : []),
  ];
  const child: ChildProcess = spawn(qemu.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer): void => {
    text += d.toString();
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = (needle: string, timeoutMs: number): Promise<boolean> =>
    new Promise((resolve) => {
      const done = (ok: boolean): void => {
        listeners.delete(check);
        clearTimeout(timer);
        resolve(ok);
      };
      const check = (): void => {
        if (text.includes(needle)) done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      listeners.add(check);
      void exited.then(() => done(text.includes(needle)));
      check();
    });
  return { console: () => text, exited, waitFor, kill: () => child.kill('SIGKILL') };
}
