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
// Without the tunnel and CA the service answers health/describe only (pack: PACK_UNAVAILABLE).
import { readFileSync } from 'node:fs';
import { createPackHandler } from './pack.ts';
import { SERVICE_VERSION, startEnclaveServer, type EnclaveNsm, type PackHandler } from './server.ts';

export const DEFAULT_SOCKET_PATH = '/run/attested-pack.sock';

async function openNsm(mode: string): Promise<EnclaveNsm | null> {
  if (mode === 'none') return null;
  if (mode !== 'hardware') throw new Error(`ATTESTED_PACK_NSM must be 'hardware' or 'none', not '${mode}'`);
  // Lazy: koffi (native) is loaded only on this path.
  const { openHardwareNsm } = await import('./nsm/device.ts');
  return openHardwareNsm();
}

function packHandlerFromEnv(env: NodeJS.ProcessEnv): PackHandler | undefined {
  const tunnelSocket = env.ATTESTED_PACK_TUNNEL_SOCKET;
  const caFile = env.ATTESTED_PACK_KMS_CA_FILE;
  if (tunnelSocket === undefined && caFile === undefined) return undefined;
  if (tunnelSocket === undefined || caFile === undefined) {
    throw new Error('set both ATTESTED_PACK_TUNNEL_SOCKET and ATTESTED_PACK_KMS_CA_FILE (or neither, for a health-only service)');
  }
  const endpoint = env.ATTESTED_PACK_KMS_ENDPOINT;
  return createPackHandler({
    kms: { tunnelSocket, caBundlePem: readFileSync(caFile, 'utf8'), ...(endpoint === undefined ? {} : { endpointFor: () => endpoint }) },
    builderVersion: SERVICE_VERSION,
  });
}

async function run(): Promise<void> {
  const socketPath = process.env.ATTESTED_PACK_SOCKET ?? DEFAULT_SOCKET_PATH;
  const nsm = await openNsm(process.env.ATTESTED_PACK_NSM ?? 'hardware');
  const packHandler = packHandlerFromEnv(process.env);
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
  process.stderr.write(`attested-pack enclave: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
