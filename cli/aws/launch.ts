// Starting the enclave on the parent instance: check the allocator can hold it, check the EIF
// measures to the published manifest (nitro-cli describe-eif), launch it with the right
// memory/CPUs (run-enclave, never --debug-mode), then read back what is actually running
// (describe-enclaves) and terminate it if it is not the manifest's image, in production mode,
// RUNNING. Only then may the host serve: the systemd units order the host after this.
import { readFileSync } from 'node:fs';
import type { BuildManifest } from '../../verifier/build-manifest.ts';
import { ALLOCATOR_CONFIG_PATH, allocatorFix, allocatorShortfalls, parseAllocatorConfig } from './allocator.ts';
import { AwsDeployError } from './errors.ts';
import { compareMeasurements, describeMismatches } from './measurements.ts';
import { eifSigningCertRefusal, trustPolicyRefusal } from './preflight.ts';
import { parseDescribeEif, parseDescribeEnclaves, parseRunEnclave, runNitroCli, type EnclaveDescription, type NitroCliOptions } from './nitro-cli.ts';

/** Defaults sized for the attested-pack image (Node runtime in the ramdisk, ~150 MB EIF). */
export const DEFAULT_ENCLAVE_MEMORY_MIB = 2048;
export const DEFAULT_ENCLAVE_CPUS = 2;
/** Fixed CID so the vsock bridge units can name it statically (CIDs below 4 are reserved). */
export const DEFAULT_ENCLAVE_CID = 16;
export const DEFAULT_ENCLAVE_NAME = 'attested-pack';

export interface LaunchOptions {
  eifPath: string;
  manifest: BuildManifest;
  memoryMiB: number;
  cpuCount: number;
  enclaveCid?: number;
  enclaveName: string;
  /** Terminate other enclaves on this parent instead of refusing. */
  replace: boolean;
  allocatorPath?: string;
  nitro: NitroCliOptions;
  log: (line: string) => void;
  /** Clock for the EIF signing certificate's dates (default: now). */
  now?: Date;
}

export interface LaunchResult {
  enclaveId: string;
  enclaveName: string;
  enclaveCid: number;
  memoryMiB: number;
  cpuIds: number[];
  pcrs: { PCR0: string; PCR1: string; PCR2: string; PCR8?: string };
  /** True when a matching enclave was already running and was kept. */
  reused: boolean;
}

/** Why a described enclave may not serve, or null when it may. */
export function enclaveRefusal(d: EnclaveDescription, manifest: BuildManifest): AwsDeployError | null {
  if (d.Flags === 'DEBUG_MODE') {
    return new AwsDeployError(
      'ENCLAVE_DEBUG',
      `enclave ${d.EnclaveID} runs in debug mode: its attestation documents report all-zero PCR0/1/2, so KMS refuses it and receipts would not verify`,
      'Start it without --debug-mode (attested-pack run-enclave never passes it); debug only with a separate, unpinned key.',
    );
  }
  if (d.State !== 'RUNNING') {
    return new AwsDeployError('ENCLAVE_NOT_RUNNING', `enclave ${d.EnclaveID} is ${d.State}, not RUNNING`, 'Look at `journalctl -u attested-pack-enclave` and /var/log/nitro_enclaves/, then start it again.');
  }
  if (d.Measurements === undefined) {
    return new AwsDeployError('NITRO_CLI_OUTPUT', `describe-enclaves reports no Measurements for ${d.EnclaveID}`, 'Use nitro-cli 1.2 or later (it reports the PCRs of running enclaves).');
  }
  const diff = compareMeasurements(d.Measurements, manifest);
  if (diff.length > 0) {
    return new AwsDeployError(
      'ENCLAVE_MISMATCH',
      `enclave ${d.EnclaveID} is not the image of the build manifest: ${describeMismatches(diff)}`,
      'Deploy the EIF that the manifest describes (or the manifest of the EIF you deployed); `attested-pack pcr-diff` explains which part differs.',
    );
  }
  return null;
}

function checkAllocator(opts: LaunchOptions): void {
  const path = opts.allocatorPath ?? ALLOCATOR_CONFIG_PATH;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new AwsDeployError(
      'ALLOCATOR_CONFIG',
      `cannot read the allocator configuration ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      `Install aws-nitro-enclaves-cli, then ${allocatorFix({ memoryMiB: opts.memoryMiB, cpuCount: opts.cpuCount })} Enable it at boot: \`systemctl enable --now nitro-enclaves-allocator.service\`.`,
    );
  }
  const short = allocatorShortfalls(parseAllocatorConfig(text), { memoryMiB: opts.memoryMiB, cpuCount: opts.cpuCount });
  if (short.length > 0) {
    throw new AwsDeployError('ALLOCATOR_CONFIG', `the allocator cannot hold this enclave: ${short.join('; ')}`, allocatorFix({ memoryMiB: opts.memoryMiB, cpuCount: opts.cpuCount }));
  }
}

async function terminate(id: string, opts: LaunchOptions): Promise<void> {
  opts.log(`terminating enclave ${id}`);
  await runNitroCli(['terminate-enclave', '--enclave-id', id], opts.nitro);
}

export async function launchEnclave(opts: LaunchOptions): Promise<LaunchResult> {
  // Refused before nitro-cli is called at all.
  const early = trustPolicyRefusal(opts.manifest) ?? eifSigningCertRefusal(opts.eifPath, opts.now ?? new Date());
  if (early !== null) throw early;
  checkAllocator(opts);

  const eif = parseDescribeEif((await runNitroCli(['describe-eif', '--eif-path', opts.eifPath], opts.nitro)).stdout);
  if (!eif.CheckCRC) throw new AwsDeployError('EIF_MISMATCH', `${opts.eifPath} fails its CRC check (damaged or truncated)`, 'Copy the EIF again and compare its SHA-384 with eif.sha384 in the build manifest.');
  const eifDiff = compareMeasurements(eif.Measurements, opts.manifest);
  if (eifDiff.length > 0) {
    throw new AwsDeployError(
      'EIF_MISMATCH',
      `${opts.eifPath} is not the image of the build manifest: ${describeMismatches(eifDiff)}`,
      'Deploy the EIF that the manifest describes (attested-pack rebuild --manifest reproduces it); `attested-pack pcr-diff` explains which part differs.',
    );
  }
  opts.log(`EIF measures to the manifest (PCR0 ${eif.Measurements.PCR0.slice(0, 16)}…)`);

  const existing = parseDescribeEnclaves((await runNitroCli(['describe-enclaves'], opts.nitro)).stdout);
  const same = existing.find((d) => d.EnclaveName === opts.enclaveName && enclaveRefusal(d, opts.manifest) === null && (opts.enclaveCid === undefined || d.EnclaveCID === opts.enclaveCid));
  if (same !== undefined && existing.length === 1) {
    opts.log(`enclave ${same.EnclaveID} already runs the manifest's image; keeping it`);
    return resultOf(same, true);
  }
  if (existing.length > 0) {
    if (!opts.replace) {
      throw new AwsDeployError(
        'ENCLAVE_CONFLICT',
        `${existing.length} enclave(s) already run on this parent (${existing.map((d) => d.EnclaveName ?? d.EnclaveID).join(', ')}); one enclave per parent instance`,
        'Pass --replace to terminate them first, or `nitro-cli terminate-enclave --all`.',
      );
    }
    for (const d of existing) await terminate(d.EnclaveID, opts);
  }

  const args = ['run-enclave', '--eif-path', opts.eifPath, '--memory', String(opts.memoryMiB), '--cpu-count', String(opts.cpuCount), '--enclave-name', opts.enclaveName];
  if (opts.enclaveCid !== undefined) args.push('--enclave-cid', String(opts.enclaveCid));
  const run = parseRunEnclave((await runNitroCli(args, opts.nitro)).stdout);
  opts.log(`started enclave ${run.EnclaveID} (CID ${run.EnclaveCID}, ${run.MemoryMiB} MiB, CPUs ${run.CPUIDs.join(',')})`);

  const described = parseDescribeEnclaves((await runNitroCli(['describe-enclaves'], opts.nitro)).stdout).find((d) => d.EnclaveID === run.EnclaveID);
  const refusal =
    described === undefined
      ? new AwsDeployError('ENCLAVE_NOT_RUNNING', `enclave ${run.EnclaveID} is not listed by describe-enclaves right after starting`, 'Look at /var/log/nitro_enclaves/ and `nitro-cli console` (debug builds only), then start it again.')
      : enclaveRefusal(described, opts.manifest);
  if (refusal !== null) {
    // Refuse to serve: a wrong image must not keep a vsock port the host would talk to.
    await terminate(run.EnclaveID, opts).catch((e: unknown) => opts.log(`could not terminate ${run.EnclaveID}: ${(e as Error).message}`));
    throw refusal;
  }
  return resultOf(described as EnclaveDescription, false);
}

function resultOf(d: EnclaveDescription, reused: boolean): LaunchResult {
  const m = d.Measurements as NonNullable<EnclaveDescription['Measurements']>;
  const pcrs: LaunchResult['pcrs'] = { PCR0: m.PCR0, PCR1: m.PCR1, PCR2: m.PCR2 };
  if (m.PCR8 !== undefined) pcrs.PCR8 = m.PCR8;
  return { enclaveId: d.EnclaveID, enclaveName: d.EnclaveName ?? '', enclaveCid: d.EnclaveCID, memoryMiB: d.MemoryMiB, cpuIds: d.CPUIDs, pcrs, reused };
}
