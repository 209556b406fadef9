// `attested-pack doctor`: is this parent instance ready to run attested-pack? One line per
// prerequisite, with the fix for each failure. The checks live in cli/aws/doctor.ts.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseBuildManifest, type BuildManifest } from '../../verifier/build-manifest.ts';
import { runDoctor, type CheckStatus } from '../aws/doctor.ts';
import { DEFAULT_ENCLAVE_CPUS, DEFAULT_ENCLAVE_MEMORY_MIB } from '../aws/launch.ts';
import { EXIT_OK, EXIT_REFUSED, UsageError, stringListOption, stringOption, writeJsonLine, type Command } from '../command.ts';

const DEFAULT_HOST_CONFIG = '/etc/attested-pack/host.yaml';
const MARK: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL', skip: 'skip' };

function readOrUsage(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function positiveInt(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^[1-9]\d{0,7}$/.test(v)) throw new UsageError(`--${name} must be a positive integer`);
  return Number(v);
}

export const doctorCommand: Command = {
  path: ['doctor'],
  summary: 'check (and explain) every prerequisite of a Nitro Enclaves parent instance',
  help: `Usage: attested-pack doctor [--manifest FILE] [--also-manifest FILE]… [--host-config FILE] [--policy FILE]…
         [--role ARN] [--memory MiB] [--cpu-count N] [--imds-endpoint URL]
         [--nitro-cli PATH] [--root DIR] [--timeout-ms N] [--json]

Checks, and says how to fix, each thing attested-pack needs on the parent instance:
  nitro-instance   /dev/nitro_enclaves exists (enclave support enabled, driver loaded);
                   elsewhere doctor says plainly that this is not a Nitro parent instance
  manifest         the build manifest is a production (nitro-cli blobs) build
  nitro-cli        installed and runnable
  allocator        /etc/nitro_enclaves/allocator.yaml reserves the enclave's memory/CPUs
  vsock            /dev/vsock present and socat installed (never connects to vsock)
  enclave          describe-enclaves: RUNNING, not debug mode, PCRs equal the manifest's
  iam-credentials  IMDSv2 token, instance role, role credentials
  host-config      the host configuration loads (--host-config; default
                   ${DEFAULT_HOST_CONFIG} when it exists)
  kms-egress       the KMS endpoint is on the egress allowlist and reachable — through the
                   running host's egress proxy when its socket exists, else directly
  key-policies     each --policy lints clean against the manifest (policy lint) and some
                   policy pins the manifest's PCR0

Options:
  --manifest FILE      published build manifest (default: the host configuration's)
  --also-manifest FILE during an image rollout: the policies may also pin this image (repeatable)
  --host-config FILE   host configuration (region, egress allowlist, manifest)
  --policy FILE        key policy to check (repeatable): JSON, generate's output,
                       CloudFormation or generate's Terraform
  --role ARN           the enclave role (kms:* for it is an error)
  --memory MiB         enclave memory to plan for (default ${DEFAULT_ENCLAVE_MEMORY_MIB})
  --cpu-count N        enclave vCPUs to plan for (default ${DEFAULT_ENCLAVE_CPUS})
  --imds-endpoint URL  instance metadata endpoint (default http://169.254.169.254 on EC2)
  --nitro-cli PATH     nitro-cli executable (default: nitro-cli on PATH)
  --root DIR           inspect files under DIR instead of / (a mounted image, tests)
  --timeout-ms N       per network probe (default 3000)
  --json               one JSON object {nitroInstance, ok, checks: [{id, status, detail, fix}]}

Exit codes: 0 nothing failed (warnings allowed), 1 something failed (including: not a Nitro
parent instance), 2 usage or unreadable input.
`,
  options: {
    manifest: { type: 'string' },
    'also-manifest': { type: 'string', multiple: true },
    'host-config': { type: 'string' },
    policy: { type: 'string', multiple: true },
    role: { type: 'string' },
    memory: { type: 'string' },
    'cpu-count': { type: 'string' },
    'imds-endpoint': { type: 'string' },
    'nitro-cli': { type: 'string' },
    root: { type: 'string' },
    'timeout-ms': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run({ values, stdout, cwd, env }) {
    const root = resolve(cwd, stringOption(values, 'root') ?? '/');
    const manifestFile = stringOption(values, 'manifest');
    let manifest: BuildManifest | undefined;
    if (manifestFile !== undefined) manifest = parseBuildManifest(readOrUsage(resolve(cwd, manifestFile), 'build manifest'));
    const additionalManifests = stringListOption(values, 'also-manifest').map((f) => parseBuildManifest(readOrUsage(resolve(cwd, f), 'build manifest')));
    let hostConfigPath = stringOption(values, 'host-config');
    if (hostConfigPath !== undefined) hostConfigPath = resolve(cwd, hostConfigPath);
    else if (existsSync(resolve(root, DEFAULT_HOST_CONFIG.slice(1)))) hostConfigPath = resolve(root, DEFAULT_HOST_CONFIG.slice(1));
    const policies = stringListOption(values, 'policy').map((f) => ({ file: f, text: readOrUsage(resolve(cwd, f), 'key policy').toString('utf8') }));
    const role = stringOption(values, 'role');
    const imds = stringOption(values, 'imds-endpoint');
    const bin = stringOption(values, 'nitro-cli');
    const report = await runDoctor({
      root,
      env,
      nitro: { env, ...(bin === undefined ? {} : { bin: bin.includes('/') ? resolve(cwd, bin) : bin }) },
      ...(manifest === undefined ? {} : { manifest }),
      ...(hostConfigPath === undefined ? {} : { hostConfigPath }),
      policies,
      additionalManifests,
      ...(role === undefined ? {} : { enclaveRoleArn: role }),
      ...(imds === undefined ? {} : { imdsEndpoint: imds }),
      memoryMiB: positiveInt(stringOption(values, 'memory'), 'memory', DEFAULT_ENCLAVE_MEMORY_MIB),
      cpuCount: positiveInt(stringOption(values, 'cpu-count'), 'cpu-count', DEFAULT_ENCLAVE_CPUS),
      timeoutMs: positiveInt(stringOption(values, 'timeout-ms'), 'timeout-ms', 3000),
    });
    if (values.json === true) writeJsonLine(stdout, report);
    else {
      if (!report.nitroInstance) stdout.write('This is not a Nitro Enclaves parent instance: hardware checks are skipped.\n\n');
      for (const c of report.checks) {
        const [first, ...rest] = c.detail.split('\n');
        stdout.write(`[${MARK[c.status]}] ${c.id.padEnd(15)} ${first ?? ''}\n`);
        for (const line of rest) stdout.write(`       ${''.padEnd(15)} ${line}\n`);
        if (c.fix !== undefined && (c.status === 'fail' || c.status === 'warn')) stdout.write(`       ${''.padEnd(15)} fix: ${c.fix}\n`);
      }
      const failed = report.checks.filter((c) => c.status === 'fail').length;
      stdout.write(`\n${failed === 0 ? 'ready' : `${failed} check(s) failed`}\n`);
    }
    return report.ok ? EXIT_OK : EXIT_REFUSED;
  },
};
