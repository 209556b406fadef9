// The enclave image's entry point (bundled by build/ with esbuild). Inside the image, socat
// bridges the vsock port to the Unix socket this process listens on.
//
// Configuration (environment, so the image's init can set it without argv quoting):
//   ATTESTED_PACK_SOCKET  Unix socket path (default /run/attested-pack.sock)
//   ATTESTED_PACK_NSM     'hardware' (default): open /dev/nsm, a hard error if missing;
//                         'none': health only — describe/pack answer NSM_UNAVAILABLE
//                         (for smoke-testing the image outside an enclave). There is no
//                         simulated mode here: the simulator is wired in only by the CLI.
//   ATTESTED_PACK_TUNNEL_SOCKET  outbound tunnel socket (socat → vsock → host egress proxy)
//   ATTESTED_PACK_KMS_CA_FILE    PEM bundle the KMS certificate must chain to
//   ATTESTED_PACK_KMS_ENDPOINT   optional KMS endpoint override (default kms.<region>.amazonaws.com)
//   ATTESTED_PACK_TRUST_POLICY   the pack trust policy measured into the image (default
//                                /app/trust-policy.json); absent file = every pack refused
// Without the tunnel and CA the service answers health/describe only (pack: PACK_UNAVAILABLE).
import { existsSync, readFileSync } from 'node:fs';
import { createPackHandler } from './pack.ts';
import { imageAuthorizer, refusingAuthorizer } from './pack/policy-authorizer.ts';
import { SERVICE_VERSION, startEnclaveServer, type EnclaveNsm, type PackHandler } from './server.ts';

export const DEFAULT_SOCKET_PATH = '/run/attested-pack.sock';
export const DEFAULT_TRUST_POLICY_PATH = '/app/trust-policy.json';

async function openNsm(mode: string): Promise<EnclaveNsm | null> {
  if (mode === 'none') return null;
  if (mode !== 'hardware') throw new Error(`ATTESTED_PACK_NSM must be 'hardware' or 'none', not '${mode}'`);
  // Lazy: koffi (native) is loaded only on this path.
  const { openHardwareNsm } = await import('./nsm/device.ts');
  return openHardwareNsm();
}

function packHandlerFromEnv(env: NodeJS.ProcessEnv, nsm: EnclaveNsm | null): PackHandler | undefined {
  const tunnelSocket = env.ATTESTED_PACK_TUNNEL_SOCKET;
  const caFile = env.ATTESTED_PACK_KMS_CA_FILE;
  if (tunnelSocket === undefined && caFile === undefined) return undefined;
  if (tunnelSocket === undefined || caFile === undefined) {
    throw new Error('set both ATTESTED_PACK_TUNNEL_SOCKET and ATTESTED_PACK_KMS_CA_FILE (or neither, for a health-only service)');
  }
  const endpoint = env.ATTESTED_PACK_KMS_ENDPOINT;
  const policyPath = env.ATTESTED_PACK_TRUST_POLICY ?? DEFAULT_TRUST_POLICY_PATH;
  const policyBytes = existsSync(policyPath) ? new Uint8Array(readFileSync(policyPath)) : null;
  return createPackHandler({
    kms: { tunnelSocket, caBundlePem: readFileSync(caFile, 'utf8'), ...(endpoint === undefined ? {} : { endpointFor: () => endpoint }) },
    // Without an NSM the server refuses packs before they get here; the authorizer refuses too.
    authorizer: nsm === null ? refusingAuthorizer('CLOCK_UNTRUSTED', 'this enclave runs without an NSM') : imageAuthorizer({ policyBytes, nsm, tunnelSocket, readFile: (p) => readFileSync(p, 'utf8') }),
    builderVersion: SERVICE_VERSION,
  });
}

async function run(): Promise<void> {
  const socketPath = process.env.ATTESTED_PACK_SOCKET ?? DEFAULT_SOCKET_PATH;
  const nsm = await openNsm(process.env.ATTESTED_PACK_NSM ?? 'hardware');
  const packHandler = packHandlerFromEnv(process.env, nsm);
  const server = await startEnclaveServer(socketPath, {
    nsm,
    packHandler,
    log: (event) => process.stderr.write(`${JSON.stringify({ t: new Date().toISOString(), ...event })}\n`),
  });
  process.stderr.write(`${JSON.stringify({ event: 'listening', socket: socketPath, nsm: nsm?.kind ?? 'none' })}\n`);
  const stop = () => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

run().catch((e: unknown) => {
  // The stable code first (e.g. NSM_DEVICE_MISSING), so a console log says which refusal it was.
  const code = e instanceof Error && 'code' in e && typeof e.code === 'string' ? `${e.code}: ` : '';
  process.stderr.write(`attested-pack enclave: ${code}${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
