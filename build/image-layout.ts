// What the enclave image contains and how it starts: one definition shared by the build,
// Dockerfile.enclave's test and the boot test, so the three cannot drift apart.
// The application ramdisk (PCR2) is the same whichever blob set boots it: development-only
// behaviour is switched on by the development kernel command line (measured in PCR1).
import { TRUST_POLICY_IMAGE_PATH } from '../verifier/build-manifest.ts';

/** Image paths (relative to the root). */
export const IMAGE_PATHS = {
  node: 'usr/bin/node',
  socat: 'usr/bin/socat',
  launcher: 'app/launch.mjs',
  service: 'app/enclave.mjs',
  caBundle: 'etc/ssl/certs/ca-bundle.pem',
  /** Only in images built with --trust-policy: the canonical policy JSON (measured in PCR2). */
  trustPolicy: TRUST_POLICY_IMAGE_PATH.slice(1),
} as const;

/**
 * npm files the service loads at run time instead of from its bundle: koffi (the FFI behind
 * /dev/nsm, enclave/nsm/device.ts) is a native addon, so its loader and the published
 * prebuilt linux-x64 glibc binary go into the image as files, pinned by the root
 * package-lock.json. Paths relative to the source checkout; in the image under app/.
 */
export const IMAGE_NODE_MODULE_FILES: readonly string[] = [
  'node_modules/koffi/package.json',
  'node_modules/koffi/index.js',
  'node_modules/koffi/src/koffi/index.js',
  'node_modules/koffi/src/koffi/src/static.js',
  'node_modules/@koromix/koffi-linux-x64/package.json',
  'node_modules/@koromix/koffi-linux-x64/index.js',
  'node_modules/@koromix/koffi-linux-x64/linux_x64/koffi.node',
];

export const ENCLAVE_SOCKET = '/run/attested-pack.sock';
/** The service's vsock port: the host connects to <enclave CID>:5000. */
export const ENCLAVE_VSOCK_PORT = 5000;
/** Outbound tunnel: the service connects to this Unix socket, socat relays it to the parent. */
export const TUNNEL_SOCKET = '/run/attested-pack-tunnel.sock';
/** The parent's (CID 3) vsock port where the host relays tunnel streams to its egress proxy. */
export const TUNNEL_VSOCK_PORT = 8001;

/**
 * V8's young generation grows to 3 × 16 MB semi-spaces by default; capping it keeps a pack
 * of a 10 MB repo under 100 MB RSS (bench/sops.ts measures both) at a small cost in speed.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];

export const ENCLAVE_CMD: readonly string[] = [`/${IMAGE_PATHS.node}`, ...NODE_FLAGS, `/${IMAGE_PATHS.launcher}`];

/** Variables enclave/main.ts reads (see its header), plus the launcher's. */
export const ENCLAVE_ENV: ReadonlyArray<readonly [string, string]> = [
  ['PATH', '/usr/bin:/bin'],
  ['NODE_ENV', 'production'],
  ['ATTESTED_PACK_SOCKET', ENCLAVE_SOCKET],
  ['ATTESTED_PACK_NSM', 'hardware'],
  ['ATTESTED_PACK_TUNNEL_SOCKET', TUNNEL_SOCKET],
  ['ATTESTED_PACK_KMS_CA_FILE', `/${IMAGE_PATHS.caBundle}`],
  ['ATTESTED_PACK_VSOCK_PORT', String(ENCLAVE_VSOCK_PORT)],
  ['ATTESTED_PACK_TUNNEL_VSOCK_PORT', String(TUNNEL_VSOCK_PORT)],
  // Set whether or not the image carries a policy: without the file the service refuses every pack.
  ['ATTESTED_PACK_TRUST_POLICY', TRUST_POLICY_IMAGE_PATH],
];

/**
 * Kernel command line words that only the development blob set carries. The launcher
 * reads /proc/cmdline: `attested_pack.dev_serial=ttyS1` bridges that serial port to the
 * service socket (QEMU has no vsock to the host here). The service runs in hardware NSM
 * mode: the development kernel's nsm.ko drives QEMU's virtio-nsm-pci.
 */
export const DEV_CMDLINE_FLAGS = ['attested_pack.dev_serial=ttyS1'] as const;
/**
 * `attested_pack.dev_nsm=none`: run without /dev/nsm (health only). No committed blob set
 * carries it any more; the launcher still honours it for a hand-made development command
 * line on a QEMU without virtio-nsm. Measured in PCR0/PCR1 like every other word.
 */
export const DEV_NO_NSM_FLAG = 'attested_pack.dev_nsm=none';
