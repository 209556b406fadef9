// `attested-pack enclave`: run the enclave service on a Unix socket outside the image —
// with the hardware NSM (inside a Nitro Enclave) or, for development and the demo, the
// SIMULATED NSM (wired in here, never by enclave/ itself).
import { dirname, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { SERVICE_VERSION, startEnclaveServer, type EnclaveNsm, type PackHandler } from '../../enclave/server.ts';
import { createPackHandler } from '../../enclave/pack.ts';
import { imageAuthorizer } from '../../enclave/pack/policy-authorizer.ts';
import { canonicalTrustPolicyBytes, parseTrustPolicy } from '../../verifier/trust-policy.ts';
import { parseBuildManifest } from '../../verifier/index.ts';
import { createTestCa } from '../../simulator/attestation-issuer.ts';
import { createSimulatedNsm, writeSimulatedRoot } from '../../simulator/nsm.ts';
import { EXIT_OK, UsageError, requireOption, stringOption, type Command, type OptionValues, shutdownSignal } from '../command.ts';

/** The trust policy file as the image carries it (canonical JSON), or null without --trust-policy. */
function trustPolicyBytes(values: OptionValues, cwd: string): Uint8Array | null {
  const file = stringOption(values, 'trust-policy');
  if (file === undefined) return null;
  try {
    return canonicalTrustPolicyBytes(parseTrustPolicy(readFileSync(resolve(cwd, file))));
  } catch (e) {
    throw new UsageError(`--trust-policy: ${(e as Error).message}`);
  }
}

interface PackSettings {
  kms: { tunnelSocket: string; caBundlePem: string; endpointFor?: () => string };
  policyBytes: Uint8Array | null;
}

/** The KMS path and trust policy options, checked before any NSM is opened (usage errors first). */
function packSettingsFrom(values: OptionValues, cwd: string): PackSettings | undefined {
  const tunnel = stringOption(values, 'tunnel');
  const caFile = stringOption(values, 'kms-ca');
  const endpoint = stringOption(values, 'kms-endpoint');
  if (tunnel === undefined && caFile === undefined) {
    if (endpoint !== undefined) throw new UsageError('--kms-endpoint needs --tunnel and --kms-ca');
    return undefined;
  }
  if (tunnel === undefined || caFile === undefined) throw new UsageError('--tunnel and --kms-ca go together');
  let caBundlePem: string;
  try {
    caBundlePem = readFileSync(resolve(cwd, caFile), 'utf8');
  } catch (e) {
    throw new UsageError(`--kms-ca: ${(e as Error).message}`);
  }
  if (endpoint !== undefined && !/^https:\/\//.test(endpoint)) throw new UsageError('--kms-endpoint must be an https:// URL');
  return {
    kms: { tunnelSocket: resolve(cwd, tunnel), caBundlePem, ...(endpoint === undefined ? {} : { endpointFor: () => endpoint }) },
    policyBytes: trustPolicyBytes(values, cwd),
  };
}

/** The real pack when the KMS path is configured; otherwise the enclave answers PACK_UNAVAILABLE. */
function packHandlerFrom(settings: PackSettings | undefined, nsm: EnclaveNsm): PackHandler | undefined {
  if (settings === undefined) return undefined;
  return createPackHandler({
    kms: settings.kms,
    authorizer: imageAuthorizer({ policyBytes: settings.policyBytes, nsm, tunnelSocket: settings.kms.tunnelSocket, readFile: (p) => readFileSync(p, 'utf8') }),
    builderVersion: SERVICE_VERSION,
  });
}

export const enclaveCommand: Command = {
  path: ['enclave'],
  summary: 'run the enclave service on a Unix socket (hardware NSM, or SIMULATED for development)',
  help: `Usage: attested-pack enclave --socket PATH --nsm hardware|simulated [options]

Serves the host ↔ enclave protocol (enclave/README.md) on a Unix socket. Inside a Nitro
Enclave use --nsm hardware (/dev/nsm; a missing device is an error, never a fallback). For
development, --nsm simulated issues real COSE attestation documents from a fresh SIMULATED
test CA with the PCRs of --manifest, and writes that CA's root certificate so hosts and
verifiers can be pointed at it explicitly.

Options:
  --socket PATH      Unix socket to listen on                                 (required)
  --nsm MODE         hardware | simulated                                     (required)
  --manifest FILE    build manifest whose PCRs the simulated NSM reports (simulated only)
  --root-dir DIR     where to write simulated-nitro-root.pem (default: the socket's dir)
  --ca-dir DIR       keep the SIMULATED CA here and reuse it on later runs, so several
                     simulated enclaves chain to one root (default: a fresh CA per run)
  --tunnel PATH      outbound tunnel socket to the host's egress proxy  } enable packing
  --kms-ca FILE      PEM bundle the KMS TLS certificate must chain to   } (both needed)
  --kms-endpoint URL KMS endpoint override, e.g. the KMS emulator (default: the regional
                     kms.<region>.amazonaws.com); TLS stays pinned to --kms-ca
  --trust-policy FILE the pack trust policy (docs/pack-policy.md) — the image's own is
                     measured into it; without one every pack is refused
  --json             print the startup summary as one JSON line
`,
  options: {
    socket: { type: 'string' },
    nsm: { type: 'string' },
    manifest: { type: 'string' },
    'root-dir': { type: 'string' },
    'ca-dir': { type: 'string' },
    tunnel: { type: 'string' },
    'kms-ca': { type: 'string' },
    'kms-endpoint': { type: 'string' },
    'trust-policy': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run({ values, stdout, cwd }) {
    const socketPath = resolve(cwd, requireOption(values, 'socket'));
    const mode = requireOption(values, 'nsm');
    const settings = packSettingsFrom(values, cwd);
    let nsm: EnclaveNsm;
    let rootFile: string | null = null;
    if (mode === 'hardware') {
      const { openHardwareNsm } = await import('../../enclave/nsm/device.ts');
      try {
        nsm = await openHardwareNsm();
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    } else if (mode === 'simulated') {
      let manifest;
      try {
        manifest = parseBuildManifest(readFileSync(resolve(cwd, requireOption(values, 'manifest'))));
      } catch (e) {
        if (e instanceof UsageError) throw new UsageError('--manifest is required with --nsm simulated');
        throw new UsageError(`--manifest: ${(e as Error).message}`);
      }
      const caDir = stringOption(values, 'ca-dir');
      const ca = await createTestCa(caDir === undefined ? {} : { stateDir: resolve(cwd, caDir) });
      nsm = createSimulatedNsm({ ca, pcrs: manifest });
      rootFile = writeSimulatedRoot(ca, resolve(cwd, stringOption(values, 'root-dir') ?? dirname(socketPath)));
    } else {
      throw new UsageError(`--nsm must be 'hardware' or 'simulated', not '${mode}'`);
    }
    const packHandler = packHandlerFrom(settings, nsm);
    const server = await startEnclaveServer(socketPath, { nsm, ...(packHandler === undefined ? {} : { packHandler }) });
    const summary = { socket: socketPath, nsm: nsm.kind, simulatedRoot: rootFile, packHandler: packHandler !== undefined };
    const stopped = shutdownSignal();
    stdout.write(values.json === true ? `${JSON.stringify(summary)}\n` : `attested-pack enclave (${nsm.kind.toUpperCase()} NSM) listening on ${socketPath}${rootFile === null ? '' : `; simulated root: ${rootFile}`}\n`);
    await stopped;
    await server.close();
    return EXIT_OK;
  },
};
