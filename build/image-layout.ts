// What the enclave image contains and how it starts: one definition shared by the build,
// Dockerfile.enclave's test and the boot test, so the three cannot drift apart.
// The application ramdisk (PCR2) is the same whichever blob set boots it: development-only
// behaviour is switched on by the development kernel command line (measured in PCR1).

/** Image paths (relative to the root). */
export const IMAGE_PATHS = {
  node: 'usr/bin/node',
  socat: 'usr/bin/socat',
  launcher: 'app/launch.mjs',
  service: 'app/enclave.mjs',
  caBundle: 'etc/ssl/certs/ca-bundle.pem',
} as const;

export const ENCLAVE_SOCKET = '/run/attested-pack.sock';
export const ENCLAVE_VSOCK_PORT = 5000;

export const ENCLAVE_CMD: readonly string[] = [`/${IMAGE_PATHS.node}`, `/${IMAGE_PATHS.launcher}`];

export const ENCLAVE_ENV: ReadonlyArray<readonly [string, string]> = [
  ['PATH', '/usr/bin:/bin'],
  ['NODE_ENV', 'production'],
  ['SSL_CERT_FILE', `/${IMAGE_PATHS.caBundle}`],
  ['ATTESTED_PACK_CA_BUNDLE', `/${IMAGE_PATHS.caBundle}`],
  ['ATTESTED_PACK_SOCKET', ENCLAVE_SOCKET],
  ['ATTESTED_PACK_VSOCK_PORT', String(ENCLAVE_VSOCK_PORT)],
  ['ATTESTED_PACK_NSM', 'hardware'],
];

/**
 * Kernel command line words that only the development blob set carries. The launcher
 * reads /proc/cmdline: `attested_pack.dev_serial=ttyS1` bridges that serial port to the
 * service socket (QEMU has no vsock to the host here), `attested_pack.dev_nsm=none` runs
 * without /dev/nsm (a development kernel has no NSM driver).
 */
export const DEV_CMDLINE_FLAGS = ['attested_pack.dev_serial=ttyS1', 'attested_pack.dev_nsm=none'] as const;
