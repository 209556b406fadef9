// The image entry point, run as the image runs it (a separate process, env configuration).
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { callEnclave } from '../host/enclave-client.ts';
import { EnclaveProtocolError } from '../enclave/protocol.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
const mainTs = join(repo, 'enclave', 'main.ts');
const children: ChildProcess[] = [];
const dirs: string[] = [];

function start(env: Record<string, string>): { child: ChildProcess; exited: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', mainTs], { cwd: repo, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
  return { child, exited };
}

async function waitForSocket(path: string, exited: Promise<unknown>): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  for (let i = 0; i < 300 && !gone; i++) {
    if (existsSync(path)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('enclave main did not create its socket');
}

afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('enclave/main.ts', () => {
  it('listens on ATTESTED_PACK_SOCKET and answers health; without an NSM, describe is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-main-'));
    dirs.push(dir);
    const socketPath = join(dir, 'enclave.sock');
    const { exited } = start({ ATTESTED_PACK_SOCKET: socketPath, ATTESTED_PACK_NSM: 'none' });
    await waitForSocket(socketPath, exited);
    const health = await callEnclave({ socketPath }, 'health', {}, { deadlineMs: 5000 });
    expect(health.status).toBe('ok');
    expect(health.nsm).toBe('none');
    expect(health.packHandler).toBe(false);
    const err = await callEnclave({ socketPath }, 'describe', { nonce: new Uint8Array(16) }, { deadlineMs: 5000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnclaveProtocolError);
    expect((err as EnclaveProtocolError).code).toBe('NSM_UNAVAILABLE');
  });

  it.skipIf(existsSync('/dev/nsm'))('refuses to start in hardware mode when /dev/nsm is missing (no silent simulation)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-main-'));
    dirs.push(dir);
    const { exited } = start({ ATTESTED_PACK_SOCKET: join(dir, 'e.sock') });
    const { code, stderr } = await exited;
    expect(code).toBe(1);
    expect(stderr).toContain('attested-pack enclave: NSM_DEVICE_MISSING: cannot open /dev/nsm');
    expect(existsSync(join(dir, 'e.sock'))).toBe(false);
  });

  it('installs the pack handler when the KMS tunnel and CA are configured, and refuses half of it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-main-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n');
    const socketPath = join(dir, 'enclave.sock');
    const env = { ATTESTED_PACK_SOCKET: socketPath, ATTESTED_PACK_NSM: 'none', ATTESTED_PACK_TUNNEL_SOCKET: join(dir, 'tunnel.sock'), ATTESTED_PACK_KMS_CA_FILE: join(dir, 'ca.pem') };
    const { exited } = start(env);
    await waitForSocket(socketPath, exited);
    expect((await callEnclave({ socketPath }, 'health', {}, { deadlineMs: 5000 })).packHandler).toBe(true);
    const half = start({ ATTESTED_PACK_SOCKET: join(dir, 'half.sock'), ATTESTED_PACK_NSM: 'none', ATTESTED_PACK_TUNNEL_SOCKET: join(dir, 'tunnel.sock') });
    const r = await half.exited;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ATTESTED_PACK_KMS_CA_FILE');
  });

  it('refuses an unknown NSM mode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-main-'));
    dirs.push(dir);
    const { exited } = start({ ATTESTED_PACK_SOCKET: join(dir, 'e.sock'), ATTESTED_PACK_NSM: 'simulated' });
    const { code, stderr } = await exited;
    expect(code).toBe(1);
    expect(stderr).toContain("'hardware' or 'none'");
  });
});
