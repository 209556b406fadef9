// `attested-pack run-enclave`: start the enclave on the parent instance through nitro-cli and
// refuse (exit 1, enclave terminated) unless what runs is the build manifest's image.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseBuildManifest } from '../../verifier/build-manifest.ts';
import { isAwsDeployError } from '../aws/errors.ts';
import { DEFAULT_ENCLAVE_CID, DEFAULT_ENCLAVE_CPUS, DEFAULT_ENCLAVE_MEMORY_MIB, DEFAULT_ENCLAVE_NAME, launchEnclave } from '../aws/launch.ts';
import { EXIT_OK, EXIT_REFUSED, UsageError, requireOption, stringOption, writeJsonLine, type Command } from '../command.ts';

function intOption(value: string | undefined, name: string, dflt: number, min: number, max: number): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new UsageError(`--${name} must be an integer in [${min}, ${max}]`);
  return n;
}

export const runEnclaveCommand: Command = {
  path: ['run-enclave'],
  summary: 'start the enclave with nitro-cli and refuse unless it measures to the build manifest',
  help: `Usage: attested-pack run-enclave --eif FILE --manifest build-manifest.json
         [--memory MiB] [--cpu-count N] [--enclave-cid N] [--enclave-name NAME]
         [--replace] [--allocator FILE] [--nitro-cli PATH] [--json]

On a Nitro Enclaves parent instance:
  1. checks /etc/nitro_enclaves/allocator.yaml reserves enough memory and CPUs;
  2. nitro-cli describe-eif: the EIF's PCR0/1/2 (PCR8 if signed) must equal the manifest's;
  3. nitro-cli run-enclave (never --debug-mode) with the memory/CPUs/CID given;
  4. nitro-cli describe-enclaves: the running enclave must be RUNNING, Flags NONE and
     measure to the manifest — otherwise it is terminated and the command exits 1.
An enclave of the same name that already runs the manifest's image is kept (exit 0), so
the command is safe to run again (systemd ExecStart). See deploy/ and docs/operations.md.

Options:
  --eif FILE          the enclave image                                          (required)
  --manifest FILE     the published build manifest                               (required)
  --memory MiB        enclave memory (default ${DEFAULT_ENCLAVE_MEMORY_MIB})
  --cpu-count N       enclave vCPUs (default ${DEFAULT_ENCLAVE_CPUS})
  --enclave-cid N     vsock CID of the enclave (default ${DEFAULT_ENCLAVE_CID}; the bridge units use it)
  --enclave-name S    name shown by describe-enclaves (default ${DEFAULT_ENCLAVE_NAME})
  --replace           terminate other enclaves on this parent instead of refusing
  --allocator FILE    allocator configuration (default /etc/nitro_enclaves/allocator.yaml)
  --nitro-cli PATH    nitro-cli executable (default: nitro-cli on PATH)
  --json              print the result (or the refusal) as one JSON line

Exit codes: 0 the manifest's enclave runs, 1 refused (mismatch, debug mode, conflict,
nitro-cli failure; each message says how to fix it), 2 usage or unreadable input.
`,
  options: {
    eif: { type: 'string' },
    manifest: { type: 'string' },
    memory: { type: 'string' },
    'cpu-count': { type: 'string' },
    'enclave-cid': { type: 'string' },
    'enclave-name': { type: 'string' },
    replace: { type: 'boolean' },
    allocator: { type: 'string' },
    'nitro-cli': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run({ values, stdout, stderr, cwd, env }) {
    const eifPath = resolve(cwd, requireOption(values, 'eif'));
    const manifestPath = resolve(cwd, requireOption(values, 'manifest'));
    let manifestBytes: Buffer;
    try {
      manifestBytes = readFileSync(manifestPath);
    } catch (e) {
      throw new UsageError(`cannot read build manifest ${manifestPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const manifest = parseBuildManifest(manifestBytes);
    const memoryMiB = intOption(stringOption(values, 'memory'), 'memory', DEFAULT_ENCLAVE_MEMORY_MIB, 64, 4 * 1024 * 1024);
    const cpuCount = intOption(stringOption(values, 'cpu-count'), 'cpu-count', DEFAULT_ENCLAVE_CPUS, 1, 1024);
    const enclaveCid = intOption(stringOption(values, 'enclave-cid'), 'enclave-cid', DEFAULT_ENCLAVE_CID, 4, 0xffffffff - 1);
    const enclaveName = stringOption(values, 'enclave-name') ?? DEFAULT_ENCLAVE_NAME;
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(enclaveName)) throw new UsageError('--enclave-name must be 1-64 letters, digits, ".", "_" or "-"');
    const allocator = stringOption(values, 'allocator');
    const bin = stringOption(values, 'nitro-cli');
    const json = values.json === true;
    try {
      const result = await launchEnclave({
        eifPath,
        manifest,
        memoryMiB,
        cpuCount,
        enclaveCid,
        enclaveName,
        replace: values.replace === true,
        ...(allocator === undefined ? {} : { allocatorPath: resolve(cwd, allocator) }),
        nitro: { env, ...(bin === undefined ? {} : { bin: bin.includes('/') ? resolve(cwd, bin) : bin }) },
        log: (line) => stderr.write(`run-enclave: ${line}\n`),
      });
      if (json) writeJsonLine(stdout, { ok: true, ...result });
      else {
        stdout.write(
          `enclave ${result.enclaveId} ${result.reused ? 'already running' : 'started'}: CID ${result.enclaveCid}, ${result.memoryMiB} MiB, ` +
            `CPUs ${result.cpuIds.join(',')}; measures to the manifest (PCR0 ${result.pcrs.PCR0})\n`,
        );
      }
      return EXIT_OK;
    } catch (e) {
      if (!isAwsDeployError(e)) throw e;
      if (json) writeJsonLine(stdout, { ok: false, code: e.code, message: e.message, fix: e.fix });
      stderr.write(`attested-pack run-enclave: ${e.code}: ${e.message}\n  fix: ${e.fix}\n`);
      return EXIT_REFUSED;
    }
  },
};
