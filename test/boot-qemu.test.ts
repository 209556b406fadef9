// Boot test: the development image boots under QEMU (TCG, no KVM) far enough that the
// enclave service starts and answers a health probe. The kernel, command line and
// ramdisks are read back from the EIF we wrote; the ramdisks are concatenated into one
// initrd, as the enclave loader places them back to back in memory. There is no vsock
// here, so the development command line has the launcher bridge the second serial port
// (ttyS1, a Unix socket on the host side) to the service socket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { buildImage } from '../reproducible/build-image.ts';
import { readEif } from '../build/eif.ts';
import { ENCLAVE_CMD } from '../build/image-layout.ts';
import { encodeFrame, FrameDecoder, parseResponse, type Response } from '../enclave/protocol.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CACHE = join(REPO, '.cache', 'attested-pack');
const READY = 'attested-pack: enclave service ready';
const BOOT_TIMEOUT_MS = 240_000;

function qemuPath(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v qemu-system-x86_64']).toString().trim();
  } catch {
    throw new Error('qemu-system-x86_64 is missing: apt-get install qemu-system-x86 (.ci/run does)');
  }
}

function healthOverSocket(path: string, timeoutMs: number): Promise<Response> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path);
    const decoder = new FrameDecoder();
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('no health answer over ttyS1'));
    }, timeoutMs);
    sock.on('connect', () => sock.write(encodeFrame({ id: 'boot-probe', type: 'health', body: {} })));
    sock.on('data', (chunk) => {
      for (const message of decoder.push(chunk)) {
        clearTimeout(timer);
        sock.destroy();
        resolve(parseResponse(message));
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

describe('development image boots under QEMU', () => {
  let dir: string;
  let qemu: ChildProcess | undefined;
  let console = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'boot-'));
  });
  afterAll(() => {
    qemu?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts the enclave service, which answers a health probe on ttyS1', async () => {
    const qemuBin = qemuPath();
    const image = await buildImage({ sourceRoot: REPO, cacheDir: CACHE, developmentBlobs: true });
    const eif = readEif(image.eif);
    const kernel = join(dir, 'bzImage');
    const initrd = join(dir, 'initrd');
    writeFileSync(kernel, eif.kernel);
    writeFileSync(initrd, Buffer.concat(eif.ramdisks.map((r) => Buffer.from(r))));
    const cmdline = Buffer.from(eif.cmdline).toString('utf8');
    expect(cmdline).toContain('attested_pack.dev_serial=ttyS1');
    const serialSocket = join(dir, 'ttyS1.sock');

    qemu = spawn(qemuBin, [
      '-M', 'pc', '-accel', 'tcg', '-cpu', 'max', '-m', '2048', '-smp', '2',
      '-nodefaults', '-nographic', '-monitor', 'none', '-no-reboot',
      '-kernel', kernel, '-initrd', initrd, '-append', cmdline,
      '-serial', 'stdio',
      '-serial', `unix:${serialSocket},server=on,wait=off`,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => qemu?.on('exit', (code) => resolve(code)));
    qemu.stderr?.on('data', (d: Buffer) => { console += d.toString(); });
    const ready = new Promise<void>((resolve) => {
      qemu?.stdout?.on('data', (d: Buffer) => {
        console += d.toString();
        if (console.includes(READY)) resolve();
      });
    });
    const outcome = await Promise.race([
      ready.then(() => 'ready'),
      exited.then((code) => `qemu exited (${code})`),
      new Promise<string>((r) => setTimeout(() => r('timeout'), BOOT_TIMEOUT_MS)),
    ]);
    if (outcome !== 'ready') throw new Error(`image did not become ready: ${outcome}\n--- console ---\n${console.slice(-4000)}`);

    // The development init ran the image's cmd with exactly its env lines.
    expect(console).toContain('attested-pack dev init: starting PATH=/usr/bin:/bin NODE_ENV=production');
    expect(console).toContain(`/bin/chroot . ${ENCLAVE_CMD.join(' ')}`);
    expect(console).toMatch(/"event":"listening".*"nsm":"none"/);

    const answer = await healthOverSocket(serialSocket, 60_000);
    if (!answer.ok) process.stderr.write(`probe answer: ${JSON.stringify(answer)}\n${console.slice(-3000)}\n`);
    expect(answer).toMatchObject({ id: 'boot-probe', ok: true, type: 'health', body: { status: 'ok', protocolVersion: 1, nsm: 'none' } });
  }, BOOT_TIMEOUT_MS + 120_000);
});
