// Running nitro-cli and reading the JSON it prints. Field names are exactly nitro-cli's
// (aws-nitro-enclaves-cli src/common/json_output.rs: EnclaveDescribeInfo, EnclaveRunInfo,
// EnclaveTerminateInfo, EifDescribeInfo; "Measurements" is flattened into the object).
// run-enclave prints progress lines ("Start allocating memory...") before the JSON on the
// same stream, so the JSON is taken from the first line that opens an object or array.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { AwsDeployError } from './errors.ts';

export interface NitroCliOptions {
  /** Executable name or path (default "nitro-cli", looked up on env.PATH). */
  bin?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** nitro-cli's "Measurements" map: HashAlgorithm ("Sha384 { ... }"), PCR0/1/2, PCR8 when signed. */
export interface NitroMeasurements {
  HashAlgorithm?: string;
  PCR0: string;
  PCR1: string;
  PCR2: string;
  PCR8?: string;
}

export interface EnclaveDescription {
  EnclaveName?: string;
  EnclaveID: string;
  ProcessID: number;
  EnclaveCID: number;
  NumberOfCPUs: number;
  CPUIDs: number[];
  MemoryMiB: number;
  /** "RUNNING", "TERMINATING" or "EMPTY". */
  State: string;
  /** "NONE" or "DEBUG_MODE". */
  Flags: string;
  Measurements?: NitroMeasurements;
}

export interface EnclaveRunInfo {
  EnclaveName: string;
  EnclaveID: string;
  ProcessID: number;
  EnclaveCID: number;
  NumberOfCPUs: number;
  CPUIDs: number[];
  MemoryMiB: number;
}

export interface EifDescribeInfo {
  EifVersion: number;
  Measurements: NitroMeasurements;
  IsSigned: boolean;
  CheckCRC: boolean;
  SignatureCheck?: boolean;
}

const INSTALL_FIX =
  'Install the Nitro Enclaves CLI on the parent instance (Amazon Linux 2023: `dnf install -y aws-nitro-enclaves-cli`; ' +
  'Amazon Linux 2: `amazon-linux-extras install aws-nitro-enclaves-cli`), add the service user to the `ne` group, and ' +
  'make sure /usr/bin is on PATH (or pass --nitro-cli PATH).';

/** nitro-cli error codes we can explain (src/common/document_errors.rs). */
const NITRO_ERROR_FIXES: Record<string, string> = {
  E18: 'Permission denied: run as root or as a user in the `ne` group (`usermod -aG ne <user>`, then log in again).',
  E19: 'nitro-cli could not read a file (usually the EIF): check the --eif path and its permissions.',
  E22: 'Not enough CPUs in the enclave pool: raise cpu_count in /etc/nitro_enclaves/allocator.yaml, then `systemctl restart nitro-enclaves-allocator.service`.',
  E26: 'The memory requested is smaller than the EIF needs: raise --memory (at least the EIF size, plus room for the service).',
  E27: 'More memory requested than the allocator reserved: raise memory_mib in /etc/nitro_enclaves/allocator.yaml, then `systemctl restart nitro-enclaves-allocator.service`.',
  E35: 'The EIF could not be parsed: rebuild it (`attested-pack build`) or copy it again.',
  E36: 'The enclave did not boot: check the EIF is a production image built with nitro-cli blobs (a DEVELOPMENT image only boots under QEMU).',
  E39: 'nitro-cli could not reach an enclave process: `nitro-cli describe-enclaves` as root; a stale enclave may need `nitro-cli terminate-enclave --all`.',
};

export function findOnPath(bin: string, env: NodeJS.ProcessEnv): string | undefined {
  const candidates = bin.includes('/') ? [bin] : (env.PATH ?? '').split(delimiter).filter((d) => d !== '').map((d) => join(d, bin));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  return undefined;
}

export interface NitroCliResult {
  stdout: string;
  stderr: string;
}

/** Run nitro-cli; a missing binary or a non-zero exit becomes an AwsDeployError with a fix. */
export async function runNitroCli(args: string[], opts: NitroCliOptions = {}): Promise<NitroCliResult> {
  const env = opts.env ?? process.env;
  const path = findOnPath(opts.bin ?? 'nitro-cli', env);
  if (path === undefined) throw new AwsDeployError('NITRO_CLI_MISSING', `${opts.bin ?? 'nitro-cli'} was not found on PATH`, INSTALL_FIX);
  return new Promise((resolvePromise, reject) => {
    execFile(path, args, { env, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error === null) {
        resolvePromise({ stdout, stderr });
        return;
      }
      const text = `${stderr}\n${stdout}`;
      const code = /\[\s*(E\d+)\s*\]/.exec(text)?.[1];
      const first = text.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? error.message;
      reject(
        new AwsDeployError(
          'NITRO_CLI_FAILED',
          `nitro-cli ${args[0] ?? ''} failed${code === undefined ? '' : ` (${code})`}: ${first}`,
          (code !== undefined ? NITRO_ERROR_FIXES[code] : undefined) ??
            'Read the nitro-cli message above; `nitro-cli describe-enclaves` and the log under /var/log/nitro_enclaves/ say more.',
        ),
      );
    });
  });
}

function jsonPart(text: string, what: string): unknown {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^\s*[[{]/.test(l));
  if (start < 0) throw new AwsDeployError('NITRO_CLI_OUTPUT', `nitro-cli ${what} printed no JSON`, 'Use nitro-cli 1.2 or later (it prints JSON on stdout).');
  try {
    return JSON.parse(lines.slice(start).join('\n'));
  } catch (e) {
    throw new AwsDeployError('NITRO_CLI_OUTPUT', `nitro-cli ${what} printed malformed JSON: ${(e as Error).message}`, 'Use nitro-cli 1.2 or later.');
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function field<T>(o: Record<string, unknown>, key: string, type: 'string' | 'number' | 'boolean', what: string): T {
  const v = o[key];
  if (typeof v !== type || (type === 'number' && !Number.isSafeInteger(v))) {
    throw new AwsDeployError('NITRO_CLI_OUTPUT', `nitro-cli ${what}: ${key} is missing or not a ${type}`, 'Use nitro-cli 1.2 or later.');
  }
  return v as T;
}

function cpuIds(o: Record<string, unknown>, what: string): number[] {
  const v = o.CPUIDs;
  if (!Array.isArray(v) || !v.every((x) => Number.isSafeInteger(x))) throw new AwsDeployError('NITRO_CLI_OUTPUT', `nitro-cli ${what}: CPUIDs is not a list of integers`, 'Use nitro-cli 1.2 or later.');
  return v as number[];
}

function measurements(v: unknown, what: string): NitroMeasurements {
  if (!isRecord(v)) throw new AwsDeployError('NITRO_CLI_OUTPUT', `nitro-cli ${what}: Measurements is missing`, 'Use nitro-cli 1.2 or later.');
  const hex = (k: string): string => {
    const x = v[k];
    if (typeof x !== 'string' || !/^[0-9a-fA-F]{96}$/.test(x)) throw new AwsDeployError('NITRO_CLI_OUTPUT', `nitro-cli ${what}: Measurements.${k} is not 96 hex digits`, 'Use nitro-cli 1.2 or later.');
    return x.toLowerCase();
  };
  const m: NitroMeasurements = { PCR0: hex('PCR0'), PCR1: hex('PCR1'), PCR2: hex('PCR2') };
  if (typeof v.HashAlgorithm === 'string') m.HashAlgorithm = v.HashAlgorithm;
  if (v.PCR8 !== undefined) m.PCR8 = hex('PCR8');
  return m;
}

export function parseDescribeEnclaves(text: string): EnclaveDescription[] {
  const raw = jsonPart(text, 'describe-enclaves');
  if (!Array.isArray(raw)) throw new AwsDeployError('NITRO_CLI_OUTPUT', 'nitro-cli describe-enclaves did not print a JSON array', 'Use nitro-cli 1.2 or later.');
  return raw.map((e, i) => {
    const what = `describe-enclaves[${i}]`;
    if (!isRecord(e)) throw new AwsDeployError('NITRO_CLI_OUTPUT', `nitro-cli ${what} is not an object`, 'Use nitro-cli 1.2 or later.');
    const d: EnclaveDescription = {
      EnclaveID: field(e, 'EnclaveID', 'string', what),
      ProcessID: field(e, 'ProcessID', 'number', what),
      EnclaveCID: field(e, 'EnclaveCID', 'number', what),
      NumberOfCPUs: field(e, 'NumberOfCPUs', 'number', what),
      CPUIDs: cpuIds(e, what),
      MemoryMiB: field(e, 'MemoryMiB', 'number', what),
      State: field(e, 'State', 'string', what),
      Flags: field(e, 'Flags', 'string', what),
    };
    if (typeof e.EnclaveName === 'string') d.EnclaveName = e.EnclaveName;
    if (e.Measurements !== undefined) d.Measurements = measurements(e.Measurements, what);
    return d;
  });
}

export function parseRunEnclave(text: string): EnclaveRunInfo {
  const e = jsonPart(text, 'run-enclave');
  if (!isRecord(e)) throw new AwsDeployError('NITRO_CLI_OUTPUT', 'nitro-cli run-enclave did not print a JSON object', 'Use nitro-cli 1.2 or later.');
  const what = 'run-enclave';
  return {
    EnclaveName: typeof e.EnclaveName === 'string' ? e.EnclaveName : '',
    EnclaveID: field(e, 'EnclaveID', 'string', what),
    ProcessID: field(e, 'ProcessID', 'number', what),
    EnclaveCID: field(e, 'EnclaveCID', 'number', what),
    NumberOfCPUs: field(e, 'NumberOfCPUs', 'number', what),
    CPUIDs: cpuIds(e, what),
    MemoryMiB: field(e, 'MemoryMiB', 'number', what),
  };
}

export function parseDescribeEif(text: string): EifDescribeInfo {
  const e = jsonPart(text, 'describe-eif');
  if (!isRecord(e)) throw new AwsDeployError('NITRO_CLI_OUTPUT', 'nitro-cli describe-eif did not print a JSON object', 'Use nitro-cli 1.2.3 or later.');
  const what = 'describe-eif';
  const info: EifDescribeInfo = {
    EifVersion: field(e, 'EifVersion', 'number', what),
    Measurements: measurements(e.Measurements, what),
    IsSigned: field(e, 'IsSigned', 'boolean', what),
    CheckCRC: field(e, 'CheckCRC', 'boolean', what),
  };
  if (typeof e.SignatureCheck === 'boolean') info.SignatureCheck = e.SignatureCheck;
  return info;
}
