// The enclave image's entry point (bundled by build/ with esbuild). Inside the image, socat
// bridges the vsock port to the Unix socket this process listens on.
//
// Configuration (environment, so the image's init can set it without argv quoting):
//   ATTESTED_PACK_SOCKET  Unix socket path (default /run/attested-pack.sock)
//   ATTESTED_PACK_NSM     'hardware' (default): open /dev/nsm, a hard error if missing;
//                         'none': health only — describe/pack answer NSM_UNAVAILABLE
//                         (for smoke-testing the image outside an enclave). There is no
//                         simulated mode here: the simulator is wired in only by the CLI.
import { startEnclaveServer, type EnclaveNsm, type PackHandler } from './server.ts';

export const DEFAULT_SOCKET_PATH = '/run/attested-pack.sock';

async function openNsm(mode: string): Promise<EnclaveNsm | null> {
  if (mode === 'none') return null;
  if (mode !== 'hardware') throw new Error(`ATTESTED_PACK_NSM must be 'hardware' or 'none', not '${mode}'`);
  // Lazy: koffi (native) is loaded only on this path.
  const { openHardwareNsm } = await import('./nsm/device.ts');
  return openHardwareNsm();
}

async function run(): Promise<void> {
  const socketPath = process.env.ATTESTED_PACK_SOCKET ?? DEFAULT_SOCKET_PATH;
  const nsm = await openNsm(process.env.ATTESTED_PACK_NSM ?? 'hardware');
  // The real pack handler is installed here once the pack pipeline lands.
  const packHandler: PackHandler | undefined = undefined;
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
