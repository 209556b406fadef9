// The image's first process (cmd = node /app/launch.mjs). It starts the enclave service
// (/app/enclave.mjs, bundled from enclave/main.ts), waits for its Unix socket and bridges
// vsock to it with socat: Node itself cannot open AF_VSOCK sockets. Only node: built-ins
// here (and launcher-mode.ts) — this file is bundled on its own, apart from the service.
//
// Development switches come from the kernel command line (measured in PCR0/PCR1), never
// from the application ramdisk, so PCR2 is the same for development and production blobs.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { launcherMode } from './launcher-mode.ts';

const SOCAT = '/usr/bin/socat';

function log(event: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ component: 'launcher', event, ...fields })}\n`);
}

function readCmdline(): string {
  try {
    return readFileSync('/proc/cmdline', 'utf8');
  } catch {
    return '';
  }
}

async function waitForSocket(path: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > until) throw new Error(`service socket ${path} did not appear within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function bridge(name: string, args: string[], onExit: (code: number | null) => void): ChildProcess {
  const child = spawn(SOCAT, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  child.on('error', (e) => log('bridge-error', { name, message: e.message }));
  child.on('exit', (code) => onExit(code));
  return child;
}

/**
 * A serial bridge is usable only once socat has put the tty in raw mode; bytes that arrive
 * earlier meet the cooked line discipline (echo, NUL handling) and corrupt the first frame.
 * socat -d -d logs "starting data transfer loop" after it configured both ends.
 */
function serialBridge(tty: string, socket: string, onReady: () => void): void {
  const child = spawn(SOCAT, ['-d', '-d', `OPEN:/dev/${tty},raw,echo=0`, `UNIX-CONNECT:${socket}`], { stdio: ['ignore', 'inherit', 'pipe'] });
  let seen = '';
  let ready = false;
  child.stderr?.on('data', (d: Buffer) => {
    if (ready) return;
    seen += d.toString();
    if (seen.includes('starting data transfer loop')) {
      ready = true;
      onReady();
    }
  });
  child.on('error', (e) => log('bridge-error', { name: 'serial', message: e.message }));
  child.on('exit', (code) => {
    log('bridge-exit', { name: 'serial', code });
    setTimeout(() => serialBridge(tty, socket, () => undefined), 200);
  });
}

async function main(): Promise<void> {
  const { devSerial, devNoNsm, development } = launcherMode(readCmdline());
  if (devNoNsm) process.env.ATTESTED_PACK_NSM = 'none';
  const socket = process.env.ATTESTED_PACK_SOCKET ?? '/run/attested-pack.sock';
  const port = process.env.ATTESTED_PACK_VSOCK_PORT ?? '5000';
  const tunnel = process.env.ATTESTED_PACK_TUNNEL_SOCKET;
  const tunnelPort = process.env.ATTESTED_PACK_TUNNEL_VSOCK_PORT ?? '8001';
  const vsock = existsSync('/dev/vsock');
  // The measured trust anchor (build --trust-policy); without it the service refuses every pack.
  const trustPolicy = process.env.ATTESTED_PACK_TRUST_POLICY;
  log('start', { development, socket, port, vsock, trustPolicy: trustPolicy === undefined ? null : { path: trustPolicy, present: existsSync(trustPolicy) } });

  // Outbound tunnel first, so it listens before the service can need it: each stream the
  // service opens is relayed to the parent instance (CID 3), whose egress proxy decides.
  if (vsock && tunnel !== undefined) {
    bridge('tunnel', ['-d', `UNIX-LISTEN:${tunnel},fork,unlink-early,mode=600`, `VSOCK-CONNECT:3:${tunnelPort}`], (code) => {
      log('bridge-exit', { name: 'tunnel', code });
      if (!development) process.exit(1);
    });
  }

  // Computed specifier: the service is a separate file in the image, not part of this bundle.
  const service = new URL('./enclave.mjs', import.meta.url).href;
  await import(service);
  await waitForSocket(socket, 60_000);

  if (vsock) {
    bridge('vsock', ['-d', `VSOCK-LISTEN:${port},fork,reuseaddr`, `UNIX-CONNECT:${socket}`], (code) => {
      log('bridge-exit', { name: 'vsock', code });
      if (!development) process.exit(1);
    });
  } else if (!development) {
    log('fatal', { message: 'no /dev/vsock: the service would be unreachable' });
    process.exit(1);
  }
  const announce = (): void => {
    process.stdout.write('attested-pack: enclave service ready\n');
  };
  if (devSerial !== undefined) serialBridge(devSerial, socket, announce);
  else announce();
}

main().catch((e: unknown) => {
  log('fatal', { message: e instanceof Error ? e.message : String(e) });
  process.exit(1);
});
