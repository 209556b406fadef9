// `attested-pack enclave` and `attested-pack host` as processes: the simulated enclave's
// documents verify against the root it writes, and a host in front of it reports ready.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { callEnclave } from '../host/enclave-client.ts';
import { sha256HexOfToken } from '../host/config.ts';
import { manifestPcrs, pemCertificateToDer, verifyAttestationDocument } from '../verifier/index.ts';
import { testManifest } from './host-support.ts';
import { runMain } from './enclave-support.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
const bin = join(repo, 'bin', 'attested-pack');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGTERM');
});

/** Start a CLI process and resolve with its first stdout line (the --json startup summary). */
function startCli(args: string[]): Promise<Record<string, unknown>> {
  const child = spawn(bin, args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as Record<string, unknown>);
    });
    child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
}

/** Short-lived commands run in-process. */
const runCli = (args: string[]) => runMain(args, { cwd: repo });

describe('attested-pack enclave / host', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ap-cli-'));
  const manifest = testManifest();
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));

  it('runs a SIMULATED enclave whose documents verify against the root it wrote, and a host that is ready', async () => {
    const socket = join(dir, 'enclave.sock');
    const info = await startCli(['enclave', '--socket', socket, '--nsm', 'simulated', '--manifest', join(dir, 'manifest.json'), '--json']);
    expect(info).toMatchObject({ socket, nsm: 'simulated' });
    const root = pemCertificateToDer(readFileSync(String(info.simulatedRoot), 'utf8'));
    expect(root).toBeDefined();
    const nonce = Buffer.from('cli-test-nonce-0001');
    const d = await callEnclave({ socketPath: socket }, 'describe', { nonce }, { deadlineMs: 10_000 });
    const v = verifyAttestationDocument(d.attestation, { root: root as Uint8Array, pcrs: { expected: manifestPcrs(manifest) }, expectedNonce: nonce });
    expect(v.trust.kind).toBe('simulated');

    writeFileSync(
      join(dir, 'host.yaml'),
      `listen: { host: 127.0.0.1, port: 0 }
enclave: { socketPath: enclave.sock }
region: eu-west-1
manifest: manifest.json
attestationRoot: ${String(info.simulatedRoot)}
credentials: { source: static, accessKeyId: AKIDX, secretAccessKey: s }
auth:
  tokens: [{ name: t, sha256: ${sha256HexOfToken('cli-token-0123456789')}, identities: ['*'], environments: ['*'] }]
`,
    );
    const host = await startCli(['host', '--config', join(dir, 'host.yaml'), '--json']);
    const ready = await fetch(`${String(host.address)}/v1/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, trust: 'simulated', nsm: 'simulated' });
  });

  it('host --check validates the config; a bad config exits 2', async () => {
    const ok = await runCli(['host', '--config', join(dir, 'host.yaml'), '--check', '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ ok: true, region: 'eu-west-1', tokens: ['t'] });
    writeFileSync(join(dir, 'bad.yaml'), 'region: eu-west-1\nmanifest: manifest.json\nenclave: { socketPath: x }\nauth: {}\n');
    const bad = await runCli(['host', '--config', join(dir, 'bad.yaml'), '--check']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('never runs unauthenticated');
  });

  it('enclave refuses an unknown NSM mode and hardware mode without /dev/nsm', async () => {
    const bad = await runCli(['enclave', '--socket', join(dir, 'x.sock'), '--nsm', 'fake']);
    expect(bad.code).toBe(2);
    const half = await runCli(['enclave', '--socket', join(dir, 'z.sock'), '--nsm', 'hardware', '--tunnel', join(dir, 't.sock')]);
    expect(half.code).toBe(2);
    expect(half.err).toContain('--tunnel and --kms-ca go together');
    const hw = await runCli(['enclave', '--socket', join(dir, 'y.sock'), '--nsm', 'hardware']);
    expect(hw.code).toBe(2);
    expect(hw.err).toContain('/dev/nsm');
  });
});
