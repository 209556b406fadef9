// Shared by the enclave-*/host-* tests: throwaway git repositories (real git, either object
// format), a raw frame client for protocol-level tests, and a fake NSM for transport tests.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FrameDecoder, parseResponse, type Response } from '../enclave/protocol.ts';
import type { EnclaveNsm } from '../enclave/server.ts';
import { runCli, type CliRun } from './cli-support.ts';

export const gitEnv: NodeJS.ProcessEnv = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@example.com',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@example.com',
  GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z',
  GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z',
};

export function git(dir: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: dir, env: gitEnv, encoding: 'utf8' }).trim();
}

export function gitBytes(dir: string, ...args: string[]): Buffer {
  return execFileSync('git', args, { cwd: dir, env: gitEnv });
}

/** Run the CLI in-process with captured output (spawning costs seconds of TypeScript loading). */
export function runMain(argv: string[], io: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<CliRun> {
  return runCli(argv, { cwd: io.cwd, env: io.env ?? {} });
}

/** A committed repository with the given files (path → content). */
export function makeGitRepo(files: Record<string, string>, format: 'sha1' | 'sha256' = 'sha1'): string {
  const dir = mkdtempSync(join(tmpdir(), 'ap-repo-'));
  git(dir, 'init', '-q', `--object-format=${format}`, '-b', 'main');
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), content);
  }
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'test');
  return dir;
}

export function tempSocketPath(name = 'enclave.sock'): string {
  return join(mkdtempSync(join(tmpdir(), 'ap-sock-')), name);
}

/** Send raw bytes, collect every response until the server closes or `count` arrive. */
export function rawExchange(socketPath: string, bytes: Uint8Array[], count: number, timeoutMs = 5000): Promise<{ responses: Response[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    const decoder = new FrameDecoder();
    const responses: Response[] = [];
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ responses, closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('connect', () => {
      for (const b of bytes) socket.write(b);
    });
    socket.on('data', (c: Buffer) => {
      for (const v of decoder.push(c)) responses.push(parseResponse(v));
      if (responses.length >= count) finish(false);
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', (e) => (done ? undefined : reject(e)));
  });
}

/** A stand-in NSM whose "document" is just a marker plus the nonce (transport tests only). */
export function fakeNsm(): EnclaveNsm {
  return {
    kind: 'simulated',
    async attest(req) {
      return Buffer.concat([Buffer.from('fake-doc:'), req.nonce ?? Buffer.alloc(0)]);
    },
    async describePcrs() {
      return new Map();
    },
    async getRandom(n) {
      return new Uint8Array(n);
    },
  };
}

/** A throwaway CA and a server certificate for `names` (DNS or IP), made with the openssl CLI. */
export function makeTlsMaterial(names: string[]): { caPem: string; certPem: string; keyPem: string; otherCaPem: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ap-tls-'));
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ca = (name: string) =>
    ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`,
      '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  ca('ca');
  ca('other-ca');
  ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=server');
  const san = names.map((n) => (net.isIP(n) !== 0 ? `IP:${n}` : `DNS:${n}`)).join(',');
  writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=${san}\n`);
  ossl('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.pem', '-days', '2', '-extfile', 'ext.cnf');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return { caPem: read('ca.pem'), certPem: read('srv.pem'), keyPem: read('srv.key'), otherCaPem: read('other-ca.pem') };
}
