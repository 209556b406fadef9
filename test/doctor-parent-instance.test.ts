// `attested-pack doctor` on a fixture "parent instance": a root directory with the device
// nodes and allocator file, a fake nitro-cli on PATH printing recorded output, a loopback
// IMDSv2, a loopback "KMS" TCP listener and the real host egress proxy on a Unix socket.
// Also: not a Nitro instance at all, and nitro-cli missing. Nothing touches vsock.
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../cli/main.ts';
import { TESTDATA, fakeNitroCli, type FakeNitroCli, type FakeNitroScenario } from '../cli/aws/fake-nitro-cli.ts';
import type { CheckResult, DoctorReport } from '../cli/aws/doctor.ts';
import { startEgressProxy } from '../host/egress.ts';
import { parseEgressRule } from '../host/egress.ts';
import { generateDocumentedKeyPolicy } from '../policy/generate.ts';
import { parseBuildManifest } from '../verifier/build-manifest.ts';
import { readFileSync } from 'node:fs';

const MANIFEST_V1 = join(TESTDATA, 'build-manifest-v1.json');
const MANIFEST_V2 = join(TESTDATA, 'build-manifest-v2.json');
const ROLE = 'arn:aws:iam::111122223333:role/attested-pack-enclave';
const ADMIN = 'arn:aws:iam::111122223333:role/kms-admin';

let cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

interface RootOptions {
  device?: boolean;
  vsock?: boolean;
  vendor?: string;
  allocator?: string | null;
}

function parentRoot(o: RootOptions = {}): string {
  const root = tempDir('ap-doctor-root-');
  mkdirSync(join(root, 'dev'));
  if (o.device !== false) writeFileSync(join(root, 'dev/nitro_enclaves'), '');
  if (o.vsock !== false) writeFileSync(join(root, 'dev/vsock'), '');
  mkdirSync(join(root, 'sys/devices/virtual/dmi/id'), { recursive: true });
  writeFileSync(join(root, 'sys/devices/virtual/dmi/id/sys_vendor'), `${o.vendor ?? 'Amazon EC2'}\n`);
  if (o.allocator !== null) {
    mkdirSync(join(root, 'etc/nitro_enclaves'), { recursive: true });
    writeFileSync(join(root, 'etc/nitro_enclaves/allocator.yaml'), o.allocator ?? 'memory_mib: 4096\ncpu_count: 2\n');
  }
  return root;
}

function fake(s: FakeNitroScenario, withSocat = true): FakeNitroCli {
  const f = fakeNitroCli(s);
  cleanups.push(() => f.cleanup());
  if (withSocat) {
    writeFileSync(join(f.binDir, 'socat'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  }
  // Only the fake's directory on PATH: no real nitro-cli or socat from this machine leaks in.
  f.env.PATH = f.binDir;
  return f;
}

/** IMDSv2 on loopback: PUT token, then role list and role credentials with that token. */
async function fakeImds(mode: 'ok' | 'no-role' | 'no-token' = 'ok'): Promise<string> {
  const server = http.createServer((req, res) => {
    if (req.url === '/latest/api/token' && req.method === 'PUT') {
      if (mode === 'no-token') return void res.writeHead(403).end();
      return void res.end('TOKEN');
    }
    if (req.headers['x-aws-ec2-metadata-token'] !== 'TOKEN') return void res.writeHead(401).end();
    if (req.url === '/latest/meta-data/iam/security-credentials/') return void res.end(mode === 'no-role' ? '' : 'attested-pack-enclave');
    if (req.url === '/latest/meta-data/iam/security-credentials/attested-pack-enclave') {
      return void res.end(JSON.stringify({ Code: 'Success', AccessKeyId: 'ASIAEXAMPLE', SecretAccessKey: 'secret', Token: 'tok', Expiration: '2026-11-23T18:00:00Z' }));
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

async function fakeKms(): Promise<number> {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as net.AddressInfo).port;
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function hostConfig(dir: string, allow: string[], imds: string): { path: string; egressSocket: string } {
  const egressSocket = join(dir, 'egress.sock');
  copyFileSync(MANIFEST_V1, join(dir, 'build-manifest.json'));
  const yaml = [
    'listen: { host: 127.0.0.1, port: 8443 }',
    `enclave: { socketPath: ${join(dir, 'enclave.sock')} }`,
    'region: eu-west-1',
    'manifest: build-manifest.json',
    'auth:',
    '  tokens:',
    `    - { name: ci, sha256: ${'ab'.repeat(32)}, identities: ['*'], environments: ['*'] }`,
    'egress:',
    `  socketPath: ${egressSocket}`,
    `  allow: [${allow.map((a) => JSON.stringify(a)).join(', ')}]`,
    `credentials: { source: imds, endpoint: ${JSON.stringify(imds)} }`,
  ].join('\n');
  writeFileSync(join(dir, 'host.yaml'), `${yaml}\n`);
  return { path: join(dir, 'host.yaml'), egressSocket };
}

function policyFile(manifestPath: string, key: 'sops' | 'envelope' = 'sops', also: string[] = []): string {
  const load = (p: string) => parseBuildManifest(readFileSync(p));
  const doc = generateDocumentedKeyPolicy({ key, manifest: load(manifestPath), additionalManifests: also.map(load), enclaveRoleArn: ROLE, adminArns: [ADMIN] });
  const f = join(tempDir('ap-policy-'), `${key}.json`);
  writeFileSync(f, JSON.stringify(doc.policy));
  return f;
}

async function doctor(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; report: DoctorReport; text: string }> {
  const run = async (extra: string[]) => {
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (c: Buffer) => (out += c.toString()));
    const code = await main(['doctor', '--timeout-ms', '1500', ...argv, ...extra], { stdout, stderr: new PassThrough(), env });
    return { code, out };
  };
  const json = await run(['--json']);
  const text = await run([]);
  expect(text.code).toBe(json.code);
  return { code: json.code, report: JSON.parse(json.out) as DoctorReport, text: text.out };
}

function check(r: DoctorReport, id: string): CheckResult {
  const c = r.checks.find((x) => x.id === id);
  if (c === undefined) throw new Error(`no check ${id}`);
  return c;
}

describe('attested-pack doctor on a parent instance', () => {
  it('passes every check when everything is in place (KMS reached directly while the host is down)', async () => {
    const dir = tempDir('ap-doctor-host-');
    const kms = await fakeKms();
    const imds = await fakeImds();
    const cfg = hostConfig(dir, [`kms.eu-west-1.amazonaws.com:443=127.0.0.1:${kms}`], imds);
    const f = fake({ before: 'describe-enclaves-v1.json' });
    const r = await doctor(['--root', parentRoot(), '--host-config', cfg.path, '--policy', policyFile(MANIFEST_V1), '--role', ROLE], f.env);
    expect(r.report.checks.filter((c) => c.status !== 'ok')).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.report.nitroInstance).toBe(true);
    expect(check(r.report, 'nitro-cli').detail).toContain('Nitro CLI 1.4.2');
    expect(check(r.report, 'iam-credentials').detail).toContain('role attested-pack-enclave');
    expect(check(r.report, 'kms-egress').detail).toContain('directly');
    expect(r.text).toContain('ready');
    expect(f.calls()).toEqual(['--version', 'describe-enclaves', '--version', 'describe-enclaves']);
  });

  it('reaches KMS through the running host egress proxy, and fails when the proxy cannot', async () => {
    const dir = tempDir('ap-doctor-egress-');
    const kms = await fakeKms();
    const imds = await fakeImds();
    const cfg = hostConfig(dir, [`kms.eu-west-1.amazonaws.com:443=127.0.0.1:${kms}`], imds);
    const proxy = await startEgressProxy(cfg.egressSocket, { allow: [parseEgressRule(`kms.eu-west-1.amazonaws.com:443=127.0.0.1:${kms}`)] });
    cleanups.push(() => proxy.close());
    const f = fake({ before: 'describe-enclaves-v1.json' });
    const ok = await doctor(['--root', parentRoot(), '--host-config', cfg.path], f.env);
    expect(check(ok.report, 'kms-egress')).toMatchObject({ status: 'ok' });
    expect(check(ok.report, 'kms-egress').detail).toContain("through the host's egress proxy");
    await proxy.close();

    // The running proxy's allowlist differs from the file (stale host): the tunnel is refused.
    const other = await startEgressProxy(cfg.egressSocket, { allow: [parseEgressRule('sts.eu-west-1.amazonaws.com:443')] });
    cleanups.push(() => other.close());
    const refused = await doctor(['--root', parentRoot(), '--host-config', cfg.path], f.env);
    expect(check(refused.report, 'kms-egress')).toMatchObject({ status: 'fail' });
    expect(check(refused.report, 'kms-egress').detail).toContain('DENY destination not on the allowlist');
    expect(refused.code).toBe(1);
  });

  it('fails when KMS is not on the allowlist, or not reachable, and warns about other destinations', async () => {
    const dir = tempDir('ap-doctor-allow-');
    const imds = await fakeImds();
    const f = fake({ before: 'describe-enclaves-v1.json' });
    const missing = await doctor(['--root', parentRoot(), '--host-config', hostConfig(dir, ['example.com:443'], imds).path], f.env);
    expect(check(missing.report, 'kms-egress')).toMatchObject({ status: 'fail' });
    expect(check(missing.report, 'kms-egress').fix).toContain('kms.eu-west-1.amazonaws.com:443');

    const dead = await closedPort();
    const unreachable = await doctor(['--root', parentRoot(), '--host-config', hostConfig(dir, [`kms.eu-west-1.amazonaws.com:443=127.0.0.1:${dead}`], imds).path], f.env);
    expect(check(unreachable.report, 'kms-egress').status).toBe('fail');
    expect(check(unreachable.report, 'kms-egress').detail).toContain('ECONNREFUSED');
    expect(check(unreachable.report, 'kms-egress').fix).toContain('security group');

    const kms = await fakeKms();
    const extra = await doctor(['--root', parentRoot(), '--host-config', hostConfig(dir, [`kms.eu-west-1.amazonaws.com:443=127.0.0.1:${kms}`, 'example.com:443'], imds).path], f.env);
    expect(check(extra.report, 'kms-egress')).toMatchObject({ status: 'warn' });
    expect(check(extra.report, 'kms-egress').detail).toContain('example.com:443');
  });

  it('explains a missing instance role and a metadata service without IMDSv2 tokens', async () => {
    const f = fake({});
    const noRole = await doctor(['--root', parentRoot(), '--imds-endpoint', await fakeImds('no-role')], f.env);
    expect(check(noRole.report, 'iam-credentials')).toMatchObject({ status: 'fail' });
    expect(check(noRole.report, 'iam-credentials').fix).toContain('instance profile');
    const noToken = await doctor(['--root', parentRoot(), '--imds-endpoint', await fakeImds('no-token')], f.env);
    expect(check(noToken.report, 'iam-credentials').detail).toContain('IMDSv2 token request answered 403');
    const dead = await doctor(['--root', parentRoot(), '--imds-endpoint', `http://127.0.0.1:${await closedPort()}`], f.env);
    expect(check(dead.report, 'iam-credentials').fix).toContain('hop limit');
  });

  it('fails the allocator check with the values to set', async () => {
    const f = fake({});
    const r = await doctor(['--root', parentRoot({ allocator: 'memory_mib: 512\ncpu_count: 2\n' }), '--memory', '2048'], f.env);
    expect(check(r.report, 'allocator')).toMatchObject({ status: 'fail', detail: 'memory_mib is 512 but the enclave needs 2048 MiB' });
    expect(check(r.report, 'allocator').fix).toContain('memory_mib: 2048');
    const none = await doctor(['--root', parentRoot({ allocator: null })], f.env);
    expect(check(none.report, 'allocator').detail).toContain('allocator.yaml is missing');
    expect(check(none.report, 'allocator').fix).toContain('systemctl enable --now nitro-enclaves-allocator.service');
  });

  it('fails vsock without /dev/vsock or socat', async () => {
    const r = await doctor(['--root', parentRoot({ vsock: false })], fake({}, false).env);
    const c = check(r.report, 'vsock');
    expect(c.status).toBe('fail');
    expect(c.detail).toContain('/dev/vsock is missing');
    expect(c.detail).toContain('socat is not on PATH');
    expect(c.fix).toContain('modprobe vsock');
  });

  it('fails the enclave check for a debug-mode or other-image enclave, warns when none runs', async () => {
    const debug = await doctor(['--root', parentRoot(), '--manifest', MANIFEST_V1], fake({ before: 'describe-enclaves-v1-debug.json' }).env);
    expect(check(debug.report, 'enclave').detail).toMatch(/^ENCLAVE_DEBUG/);
    const other = await doctor(['--root', parentRoot(), '--manifest', MANIFEST_V1], fake({ before: 'describe-enclaves-v2.json' }).env);
    expect(check(other.report, 'enclave').detail).toMatch(/^ENCLAVE_MISMATCH: .*PCR0 is 0b400def/);
    expect(check(other.report, 'enclave').fix).toContain('pcr-diff');
    const none = await doctor(['--root', parentRoot(), '--manifest', MANIFEST_V1], fake({}).env);
    expect(check(none.report, 'enclave')).toMatchObject({ status: 'warn', detail: 'no enclave is running' });
  });

  it('fails key policies that pin another image, or are fail-open (policy lint)', async () => {
    const f = fake({});
    const stale = await doctor(['--root', parentRoot(), '--manifest', MANIFEST_V1, '--policy', policyFile(MANIFEST_V2)], f.env);
    const c = check(stale.report, 'key-policies');
    expect(c.status).toBe('fail');
    expect(c.detail).toMatch(/KP\d{3}/);
    // The envelope key's properties name the enclave role: without --role lint cannot judge it.
    const noRole = await doctor(['--root', parentRoot(), '--manifest', MANIFEST_V1, '--policy', policyFile(MANIFEST_V1, 'envelope')], f.env);
    expect(check(noRole.report, 'key-policies')).toMatchObject({ status: 'fail' });
    expect(check(noRole.report, 'key-policies').detail).toContain('CANNOT_LINT');
    // Only a non-attested key given: lint is clean but nothing pins the image.
    const unpinned = await doctor(['--root', parentRoot(), '--manifest', MANIFEST_V1, '--policy', policyFile(MANIFEST_V1, 'envelope'), '--role', ROLE], f.env);
    expect(check(unpinned.report, 'key-policies')).toMatchObject({ status: 'fail' });
    expect(check(unpinned.report, 'key-policies').detail).toContain("no policy pins this manifest's PCR0");
    // During a rollout the policy pins both images: clean once the other manifest is declared.
    const both = policyFile(MANIFEST_V2, 'sops', [MANIFEST_V1]);
    const undeclared = await doctor(['--root', parentRoot(), '--manifest', MANIFEST_V1, '--policy', both], f.env);
    expect(check(undeclared.report, 'key-policies').detail).toContain('KP010');
    const rollout = await doctor(['--root', parentRoot(), '--manifest', MANIFEST_V1, '--also-manifest', MANIFEST_V2, '--policy', both], f.env);
    expect(check(rollout.report, 'key-policies')).toMatchObject({ status: 'ok' });
    const wild = join(tempDir('ap-wild-'), 'wild.json');
    writeFileSync(wild, JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'All', Effect: 'Allow', Principal: { AWS: ROLE }, Action: 'kms:*', Resource: '*' }] }));
    const open = await doctor(['--root', parentRoot(), '--manifest', MANIFEST_V1, '--policy', wild, '--role', ROLE], f.env);
    expect(check(open.report, 'key-policies').status).toBe('fail');
  });

  it('says why nitro-cli is needed when it is missing', async () => {
    const f = fake({});
    rmSync(join(f.binDir, 'nitro-cli'));
    const r = await doctor(['--root', parentRoot()], f.env);
    expect(check(r.report, 'nitro-cli')).toMatchObject({ status: 'fail', detail: 'nitro-cli is not on PATH' });
    expect(check(r.report, 'nitro-cli').fix).toContain('aws-nitro-enclaves-cli');
    expect(check(r.report, 'enclave').status).toBe('skip');
    expect(r.code).toBe(1);
  });

  it('refuses a development-blob manifest (it never boots in a Nitro Enclave)', async () => {
    const m = JSON.parse(readFileSync(MANIFEST_V1, 'utf8')) as { blobSet: { kind: string } };
    m.blobSet.kind = 'development';
    const file = join(tempDir('ap-devm-'), 'm.json');
    writeFileSync(file, JSON.stringify(m));
    const r = await doctor(['--root', parentRoot(), '--manifest', file], fake({}).env);
    expect(check(r.report, 'manifest')).toMatchObject({ status: 'fail' });
  });
});

describe('attested-pack doctor: the image trust policy', () => {
  const withPolicy = (trustPolicy: unknown): string => {
    const m = JSON.parse(readFileSync(MANIFEST_V1, 'utf8')) as Record<string, unknown>;
    m.trustPolicy = trustPolicy;
    const file = join(tempDir('ap-tpm-'), 'm.json');
    writeFileSync(file, JSON.stringify(m));
    return file;
  };

  it('refuses a DEVELOPMENT trust policy on a Nitro host, and an image without any policy', async () => {
    const dev = await doctor(['--root', parentRoot(), '--manifest', withPolicy({ sha384: 'd'.repeat(96), development: true, path: '/app/trust-policy.json' })], fake({}).env);
    expect(check(dev.report, 'trust-policy')).toMatchObject({ status: 'fail' });
    expect(check(dev.report, 'trust-policy').detail).toMatch(/^TRUST_POLICY_DEVELOPMENT: .*DEVELOPMENT/);
    expect(dev.code).toBe(1);
    const none = await doctor(['--root', parentRoot(), '--manifest', withPolicy(null)], fake({}).env);
    expect(check(none.report, 'trust-policy')).toMatchObject({ status: 'fail' });
    expect(check(none.report, 'trust-policy').detail).toMatch(/^TRUST_POLICY_ABSENT: .*refuse every pack/);
    const ok = await doctor(['--root', parentRoot(), '--manifest', MANIFEST_V1], fake({}).env);
    expect(check(ok.report, 'trust-policy')).toMatchObject({ status: 'ok' });
  });
});

describe('attested-pack doctor elsewhere', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'ap-doctor-laptop-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('says plainly that this is not a Nitro instance and skips hardware checks', async () => {
    const r = await doctor(['--root', root], { PATH: '' });
    expect(r.code).toBe(1);
    expect(r.report.nitroInstance).toBe(false);
    expect(check(r.report, 'nitro-instance').detail).toContain('this is not a Nitro Enclaves parent instance');
    expect(check(r.report, 'nitro-instance').fix).toContain('EnclaveOptions');
    for (const id of ['nitro-cli', 'allocator', 'vsock', 'enclave', 'iam-credentials']) expect(check(r.report, id).status).toBe('skip');
    expect(r.text.split('\n')[0]).toBe('This is not a Nitro Enclaves parent instance: hardware checks are skipped.');
  });

  it('tells an EC2 instance without enclave support what to change', async () => {
    const ec2 = parentRoot({ device: false });
    const r = await doctor(['--root', ec2, '--imds-endpoint', `http://127.0.0.1:${await closedPort()}`], { PATH: '' });
    expect(check(r.report, 'nitro-instance').detail).toContain('enclave support is not enabled');
  });

  it('still lints key policies off-instance', async () => {
    const r = await doctor(['--root', root, '--manifest', MANIFEST_V1, '--policy', policyFile(MANIFEST_V1)], { PATH: '' });
    expect(check(r.report, 'key-policies').status).toBe('ok');
  });
});
