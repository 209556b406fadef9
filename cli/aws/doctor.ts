// `attested-pack doctor`: checks, one by one, what a Nitro Enclaves parent instance needs to
// run attested-pack, and says how to fix each failure. Every probe is read-only: files under
// a configurable root, nitro-cli's describe commands, an IMDSv2 token + role lookup, a TCP
// connect (or a tunnel preamble through the host's egress proxy) to KMS. It never connects
// to vsock and never starts or stops anything.
import { existsSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { ConfigError, loadHostConfig, type HostConfig } from '../../host/config.ts';
import { encodeTunnelPreamble } from '../../enclave/protocol.ts';
import { lintPolicies } from '../../policy/lint.ts';
import { readPolicyFile } from '../../policy/read.ts';
import { isPolicyError } from '../../policy/errors.ts';
import { TRUST_POLICY_IMAGE_PATH, type BuildManifest, type ManifestTrustPolicy } from '../../verifier/build-manifest.ts';
import { trustPolicyRefusal } from './preflight.ts';
import { ALLOCATOR_CONFIG_PATH, allocatorFix, allocatorShortfalls, parseAllocatorConfig } from './allocator.ts';
import { isAwsDeployError } from './errors.ts';
import { enclaveRefusal } from './launch.ts';
import { findOnPath, parseDescribeEnclaves, runNitroCli, type NitroCliOptions } from './nitro-cli.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  id: string;
  status: CheckStatus;
  /** What was found, in the operator's words. */
  detail: string;
  /** What to do about it (failures and warnings). */
  fix?: string;
}

export interface DoctorReport {
  /** /dev/nitro_enclaves exists: this is (or looks like) an enclave-enabled parent instance. */
  nitroInstance: boolean;
  ok: boolean;
  checks: CheckResult[];
}

export interface DoctorOptions {
  /** Root of the file system to inspect (tests point it at a fixture tree). */
  root: string;
  nitro: NitroCliOptions;
  env: NodeJS.ProcessEnv;
  manifest?: BuildManifest;
  /** Image rollout: the other image(s) the key policies may also pin. */
  additionalManifests?: BuildManifest[];
  /** The host's configuration (region, egress allowlist, credentials, manifest). */
  hostConfigPath?: string;
  policies: Array<{ file: string; text: string }>;
  enclaveRoleArn?: string;
  /** IMDS base URL; undefined = the host config's, else http://169.254.169.254 on EC2 only. */
  imdsEndpoint?: string;
  memoryMiB: number;
  cpuCount: number;
  timeoutMs: number;
}

const NOT_NITRO_FIX =
  'Run doctor on the parent EC2 instance: a Nitro-based instance type with enough vCPUs (e.g. m6i.xlarge or larger), launched ' +
  'with enclave support enabled (EnclaveOptions Enabled=true, set at launch — the CDK AttestedPackService ' +
  'sets it), with aws-nitro-enclaves-cli installed (it loads the nitro_enclaves driver that creates /dev/nitro_enclaves).';

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function checkPlatform(o: DoctorOptions): CheckResult & { nitro: boolean; ec2: boolean } {
  const vendor = readText(join(o.root, 'sys/devices/virtual/dmi/id/sys_vendor'))?.trim();
  const ec2 = vendor === 'Amazon EC2';
  const device = join(o.root, 'dev/nitro_enclaves');
  if (existsSync(device)) {
    const kind = statSync(device).isCharacterDevice() ? 'character device' : 'present';
    return { id: 'nitro-instance', status: 'ok', detail: `/dev/nitro_enclaves is ${kind}${ec2 ? ' (Amazon EC2)' : ''}`, nitro: true, ec2 };
  }
  return {
    id: 'nitro-instance',
    status: 'fail',
    detail: ec2
      ? 'this is an EC2 instance but /dev/nitro_enclaves is missing: enclave support is not enabled on it, or the nitro_enclaves driver is not loaded'
      : `this is not a Nitro Enclaves parent instance (no /dev/nitro_enclaves; system vendor: ${vendor ?? 'unknown'}). Hardware checks are skipped; use 'attested-pack demo' to try the whole chain on SIMULATED hardware`,
    fix: NOT_NITRO_FIX,
    nitro: false,
    ec2,
  };
}

async function checkNitroCli(o: DoctorOptions): Promise<CheckResult> {
  const path = findOnPath(o.nitro.bin ?? 'nitro-cli', o.nitro.env ?? o.env);
  if (path === undefined) {
    return {
      id: 'nitro-cli',
      status: 'fail',
      detail: 'nitro-cli is not on PATH',
      fix: 'Install it: Amazon Linux 2023 `dnf install -y aws-nitro-enclaves-cli aws-nitro-enclaves-cli-devel`, Amazon Linux 2 `amazon-linux-extras install aws-nitro-enclaves-cli`; add the service user to the `ne` group.',
    };
  }
  try {
    const { stdout } = await runNitroCli(['--version'], { ...o.nitro, timeoutMs: o.timeoutMs });
    return { id: 'nitro-cli', status: 'ok', detail: `${stdout.trim()} (${path})` };
  } catch (e) {
    return { id: 'nitro-cli', status: 'fail', detail: `${path} does not run: ${(e as Error).message}`, fix: 'Reinstall aws-nitro-enclaves-cli.' };
  }
}

function checkAllocator(o: DoctorOptions): CheckResult {
  const want = { memoryMiB: o.memoryMiB, cpuCount: o.cpuCount };
  const text = readText(join(o.root, ALLOCATOR_CONFIG_PATH));
  if (text === undefined) {
    return { id: 'allocator', status: 'fail', detail: `${ALLOCATOR_CONFIG_PATH} is missing`, fix: `Install aws-nitro-enclaves-cli, then ${allocatorFix(want)} Enable it at boot: \`systemctl enable --now nitro-enclaves-allocator.service\`.` };
  }
  try {
    const config = parseAllocatorConfig(text);
    const short = allocatorShortfalls(config, want);
    if (short.length > 0) return { id: 'allocator', status: 'fail', detail: short.join('; '), fix: allocatorFix(want) };
    return { id: 'allocator', status: 'ok', detail: `memory_mib ${config.memoryMiB}, ${config.cpuCount} CPU(s) reserved (the enclave needs ${want.memoryMiB} MiB, ${want.cpuCount} CPUs)` };
  } catch (e) {
    if (isAwsDeployError(e)) return { id: 'allocator', status: 'fail', detail: e.message, fix: e.fix };
    throw e;
  }
}

function checkVsock(o: DoctorOptions): CheckResult {
  const problems: string[] = [];
  const fixes: string[] = [];
  if (!existsSync(join(o.root, 'dev/vsock'))) {
    problems.push('/dev/vsock is missing');
    fixes.push('Load the vsock modules (`modprobe vsock` — installing aws-nitro-enclaves-cli and rebooting does it).');
  }
  if (findOnPath('socat', o.env) === undefined) {
    problems.push('socat is not on PATH (the bridge units relay vsock to the host service with it)');
    fixes.push('Install socat (`dnf install -y socat`).');
  }
  if (problems.length > 0) return { id: 'vsock', status: 'fail', detail: problems.join('; '), fix: fixes.join(' ') };
  return { id: 'vsock', status: 'ok', detail: '/dev/vsock present, socat installed (doctor never connects to vsock)' };
}

async function checkEnclave(o: DoctorOptions): Promise<CheckResult> {
  try {
    const list = parseDescribeEnclaves((await runNitroCli(['describe-enclaves'], { ...o.nitro, timeoutMs: o.timeoutMs })).stdout);
    if (list.length === 0) {
      return { id: 'enclave', status: 'warn', detail: 'no enclave is running', fix: 'Start it: `systemctl start attested-pack-enclave` (runs attested-pack run-enclave).' };
    }
    if (o.manifest === undefined) {
      return { id: 'enclave', status: 'warn', detail: `${list.length} enclave(s) running; not compared (no build manifest)`, fix: 'Pass --manifest (or --host-config) to compare its PCRs.' };
    }
    for (const d of list) {
      const refusal = enclaveRefusal(d, o.manifest);
      if (refusal !== null) return { id: 'enclave', status: 'fail', detail: `${refusal.code}: ${refusal.message}`, fix: refusal.fix };
    }
    const d = list[0] as (typeof list)[number];
    return { id: 'enclave', status: 'ok', detail: `enclave ${d.EnclaveID} RUNNING (CID ${d.EnclaveCID}, ${d.MemoryMiB} MiB), measures to the manifest` };
  } catch (e) {
    if (isAwsDeployError(e)) return { id: 'enclave', status: 'fail', detail: e.message, fix: e.fix };
    throw e;
  }
}

async function imdsRequest(endpoint: string, path: string, init: RequestInit, timeoutMs: number): Promise<Response> {
  return fetch(new URL(path, endpoint), { ...init, signal: AbortSignal.timeout(timeoutMs) });
}

async function checkImds(endpoint: string, timeoutMs: number): Promise<CheckResult> {
  const id = 'iam-credentials';
  let token: string;
  try {
    const res = await imdsRequest(endpoint, '/latest/api/token', { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' } }, timeoutMs);
    if (!res.ok) return { id, status: 'fail', detail: `IMDSv2 token request answered ${res.status}`, fix: 'Enable the metadata service (HttpEndpoint=enabled) on the instance.' };
    token = await res.text();
  } catch (e) {
    return {
      id,
      status: 'fail',
      detail: `IMDSv2 at ${endpoint} is unreachable: ${(e as Error).message}`,
      fix: 'Enable the instance metadata service (HttpEndpoint=enabled, HttpTokens=required). If the host runs in a container, set the metadata hop limit to 2.',
    };
  }
  const headers = { 'x-aws-ec2-metadata-token': token };
  try {
    const rolesRes = await imdsRequest(endpoint, '/latest/meta-data/iam/security-credentials/', { headers }, timeoutMs);
    const roles = rolesRes.ok ? (await rolesRes.text()).split('\n').filter((r) => r !== '') : [];
    const role = roles[0];
    if (role === undefined) {
      return { id, status: 'fail', detail: 'the instance has no IAM role (no instance profile)', fix: 'Attach the enclave role as an instance profile (the CDK AttestedPackService creates and attaches it).' };
    }
    const credRes = await imdsRequest(endpoint, `/latest/meta-data/iam/security-credentials/${encodeURIComponent(role)}`, { headers }, timeoutMs);
    const doc = credRes.ok ? (JSON.parse(await credRes.text()) as Record<string, unknown>) : {};
    if (doc.Code !== 'Success' || typeof doc.AccessKeyId !== 'string') {
      return { id, status: 'fail', detail: `role ${role}: credentials unavailable (${String(doc.Code ?? credRes.status)})`, fix: 'Check the instance profile and the role trust policy (ec2.amazonaws.com must be able to assume it).' };
    }
    return { id, status: 'ok', detail: `role ${role} credentials from IMDSv2 (expire ${String(doc.Expiration ?? 'unknown')})` };
  } catch (e) {
    return { id, status: 'fail', detail: `IMDS role lookup failed: ${(e as Error).message}`, fix: 'Check the instance profile.' };
  }
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((done) => {
    const s = net.connect({ host, port });
    const t = setTimeout(() => {
      s.destroy();
      done(`no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      done(null);
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      done(e.code ?? e.message);
    });
  });
}

/** Ask the running egress proxy to open a tunnel to host:port, as the enclave would; close on the answer. */
function tunnelProbe(socketPath: string, host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((done) => {
    const s = net.connect({ path: socketPath });
    let answer = '';
    const finish = (r: string | null) => {
      clearTimeout(t);
      s.destroy();
      done(r);
    };
    const t = setTimeout(() => finish(`the egress proxy did not answer within ${timeoutMs} ms`), timeoutMs);
    s.once('connect', () => s.write(encodeTunnelPreamble(host, port)));
    s.on('data', (c: Buffer) => {
      answer += c.toString('utf8');
      const nl = answer.indexOf('\n');
      if (nl < 0) return;
      const line = answer.slice(0, nl);
      finish(line === 'OK' ? null : `the egress proxy answered "${line}"`);
    });
    s.once('error', (e: NodeJS.ErrnoException) => finish(`cannot connect to the egress socket: ${e.code ?? e.message}`));
    s.once('close', () => finish(answer === '' ? 'the egress proxy closed without answering' : null));
  });
}

function isKmsHost(host: string, region: string): boolean {
  return host === `kms.${region}.amazonaws.com` || host === `kms-fips.${region}.amazonaws.com`;
}

async function checkKmsEgress(config: HostConfig, timeoutMs: number): Promise<CheckResult> {
  const id = 'kms-egress';
  if (config.egress === undefined) {
    return { id, status: 'fail', detail: 'the host configuration has no egress section: the enclave cannot reach KMS', fix: 'Add egress: { socketPath: /run/attested-pack/egress.sock } to the host configuration (the allowlist defaults to the region\'s KMS endpoint).' };
  }
  const kms = config.egress.allow.filter((r) => isKmsHost(r.host, config.region) && r.port === 443);
  if (kms.length === 0) {
    return { id, status: 'fail', detail: `the egress allowlist has no kms.${config.region}.amazonaws.com:443`, fix: `Add "kms.${config.region}.amazonaws.com:443" to egress.allow (or drop egress.allow for the default).` };
  }
  const others = config.egress.allow.filter((r) => !isKmsHost(r.host, config.region) && !/^sts\./.test(r.host)).map((r) => `${r.host}:${r.port}`);
  const rule = kms[0] as (typeof kms)[number];
  const target = rule.connectTo ?? { host: rule.host, port: rule.port };
  const viaProxy = existsSync(config.egress.socketPath);
  const problem = viaProxy ? await tunnelProbe(config.egress.socketPath, rule.host, rule.port, timeoutMs) : await tcpProbe(target.host, target.port, timeoutMs);
  const how = viaProxy ? `through the host's egress proxy (${config.egress.socketPath})` : `directly (the host's egress socket ${config.egress.socketPath} does not exist: host not running)`;
  if (problem !== null) {
    return {
      id,
      status: 'fail',
      detail: `${rule.host}:${rule.port} is not reachable ${how}: ${problem}`,
      fix: 'Allow outbound 443 to KMS in the security group and route it (NAT gateway, or a KMS VPC interface endpoint with private DNS); start the host (`systemctl start attested-pack-host`).',
    };
  }
  if (others.length > 0) {
    return { id, status: 'warn', detail: `${rule.host}:${rule.port} reachable ${how}; the allowlist also lets the enclave reach ${others.join(', ')}`, fix: 'Keep the egress allowlist to KMS (and STS) endpoints only.' };
  }
  return { id, status: 'ok', detail: `${rule.host}:${rule.port} reachable ${how}; the allowlist holds KMS endpoints only` };
}

function checkPolicies(o: DoctorOptions): CheckResult {
  const id = 'key-policies';
  if (o.policies.length === 0) {
    return {
      id,
      status: 'skip',
      detail: 'no key policy given',
      fix: 'Pass --policy FILE for each key (`aws kms get-key-policy --key-id <sops key> --policy-name default --output text > sops.json`, run with admin credentials: the enclave role cannot read policies).',
    };
  }
  if (o.manifest === undefined) return { id, status: 'fail', detail: 'key policies cannot be checked without the build manifest', fix: 'Pass --manifest (or --host-config).' };
  const pcr0 = o.manifest.pcrs['0'].toLowerCase();
  const errors: string[] = [];
  const warnings: string[] = [];
  let pinsManifest = false;
  for (const p of o.policies) {
    try {
      const named = readPolicyFile(p.text);
      if (JSON.stringify(named).toLowerCase().includes(pcr0)) pinsManifest = true;
      const findings = lintPolicies(named, { manifest: o.manifest, additionalManifests: o.additionalManifests ?? [], ...(o.enclaveRoleArn === undefined ? {} : { enclaveRoleArn: o.enclaveRoleArn }) });
      for (const f of findings) (f.severity === 'error' ? errors : warnings).push(`${p.file}: ${f.code} ${f.message} (fix: ${f.fix})`);
    } catch (e) {
      if (!isPolicyError(e)) throw e;
      errors.push(`${p.file}: ${e.code}: ${e.message}`);
    }
  }
  if (errors.length > 0) return { id, status: 'fail', detail: errors.join('\n'), fix: 'Regenerate the policies with `attested-pack policy generate --manifest …` and apply them; `attested-pack policy lint` explains each code.' };
  if (!pinsManifest) {
    return { id, status: 'fail', detail: `no policy pins this manifest's PCR0 (${pcr0.slice(0, 16)}…): KMS would refuse the enclave`, fix: 'Roll the new image into the sops key policy first (policy generate --also-manifest, see docs/operations.md), then deploy it.' };
  }
  if (warnings.length > 0) return { id, status: 'warn', detail: warnings.join('\n') };
  return { id, status: 'ok', detail: `${o.policies.length} policy file(s) lint clean and pin the manifest's PCRs (policy lint)` };
}

function checkManifest(o: DoctorOptions): CheckResult {
  const m = o.manifest;
  if (m === undefined) return { id: 'manifest', status: 'skip', detail: 'no build manifest given', fix: 'Pass --manifest build-manifest.json (or --host-config).' };
  if (m.blobSet.kind === 'development') {
    return { id: 'manifest', status: 'fail', detail: `${m.project.name} ${m.project.version} was built with the DEVELOPMENT blob set: it boots under QEMU, never in a Nitro Enclave`, fix: 'Build on a machine with nitro-cli blobs installed (/usr/share/nitro_enclaves/blobs) and publish that manifest.' };
  }
  if (m.project.sourceDirty) {
    return { id: 'manifest', status: 'warn', detail: `${m.project.name} ${m.project.version} was built from a dirty tree: nobody can rebuild it from commit ${m.project.sourceCommit}`, fix: 'Build from a clean checkout so `attested-pack rebuild` reproduces the PCRs.' };
  }
  return { id: 'manifest', status: 'ok', detail: `${m.project.name} ${m.project.version} (commit ${m.project.sourceCommit.slice(0, 12)}, PCR0 ${m.pcrs['0'].slice(0, 16)}…)` };
}

/** The image's trust anchor: none refuses every pack; DEVELOPMENT is refused on a Nitro host (a warning elsewhere). */
function checkTrustPolicy(o: DoctorOptions, nitro: boolean): CheckResult {
  const m = o.manifest;
  if (m === undefined) return { id: 'trust-policy', status: 'skip', detail: 'no build manifest given', fix: 'Pass --manifest build-manifest.json (or --host-config).' };
  const refusal = trustPolicyRefusal(m);
  if (refusal === null) return { id: 'trust-policy', status: 'ok', detail: `the image carries trust policy sha384 ${(m.trustPolicy as ManifestTrustPolicy).sha384.slice(0, 16)}… (${TRUST_POLICY_IMAGE_PATH})` };
  const development = refusal.code === 'TRUST_POLICY_DEVELOPMENT';
  return { id: 'trust-policy', status: development && !nitro ? 'warn' : 'fail', detail: `${refusal.code}: ${refusal.message}`, fix: refusal.fix };
}

const SKIPPED = 'skipped: not a Nitro Enclaves parent instance';

export async function runDoctor(opts: DoctorOptions): Promise<DoctorReport> {
  const checks: CheckResult[] = [];
  let o = opts;
  let hostConfig: HostConfig | undefined;
  let hostConfigCheck: CheckResult | undefined;
  if (opts.hostConfigPath !== undefined) {
    try {
      hostConfig = loadHostConfig(opts.hostConfigPath, opts.env);
      hostConfigCheck = { id: 'host-config', status: 'ok', detail: `${opts.hostConfigPath}: region ${hostConfig.region}, ${hostConfig.auth.tokens.length} token rule(s)${hostConfig.auth.githubOidc === undefined ? '' : ', GitHub OIDC'}` };
      if (o.manifest === undefined) o = { ...o, manifest: hostConfig.manifest };
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      hostConfigCheck = { id: 'host-config', status: 'fail', detail: e.message, fix: 'Fix the host configuration (host/README.md); `attested-pack host --config FILE --check` validates it.' };
    }
  }
  const platform = checkPlatform(o);
  checks.push({ id: platform.id, status: platform.status, detail: platform.detail, ...(platform.fix === undefined ? {} : { fix: platform.fix }) });
  checks.push(checkManifest(o));
  checks.push(checkTrustPolicy(o, platform.nitro));
  if (platform.nitro) {
    const cli = await checkNitroCli(o);
    checks.push(cli);
    checks.push(checkAllocator(o));
    checks.push(checkVsock(o));
    checks.push(cli.status === 'ok' ? await checkEnclave(o) : { id: 'enclave', status: 'skip', detail: 'skipped: nitro-cli is not usable' });
  } else {
    for (const id of ['nitro-cli', 'allocator', 'vsock', 'enclave']) checks.push({ id, status: 'skip', detail: SKIPPED });
  }
  const imds = o.imdsEndpoint ?? (hostConfig?.credentials.source === 'imds' ? hostConfig.credentials.endpoint : undefined) ?? (platform.ec2 ? 'http://169.254.169.254' : undefined);
  checks.push(imds === undefined ? { id: 'iam-credentials', status: 'skip', detail: 'skipped: not on EC2 (pass --imds-endpoint to probe one)' } : await checkImds(imds, o.timeoutMs));
  if (hostConfigCheck !== undefined) checks.push(hostConfigCheck);
  checks.push(hostConfig === undefined ? { id: 'kms-egress', status: 'skip', detail: 'no usable host configuration', fix: 'Pass --host-config /etc/attested-pack/host.yaml.' } : await checkKmsEgress(hostConfig, o.timeoutMs));
  checks.push(checkPolicies(o));
  return { nitroInstance: platform.nitro, ok: checks.every((c) => c.status !== 'fail'), checks };
}
