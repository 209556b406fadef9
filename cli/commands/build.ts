import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';
import { CommandError, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, UsageError, stringOption, writeJsonLine, type Command } from '../command.ts';
import { BUILD_REFUSAL_CODES, isBuildError } from '../../build/errors.ts';
import { buildImage } from '../../reproducible/build-image.ts';
import { installInterruptCleanup } from '../../reproducible/interrupt.ts';
import { loadTrustPolicy, type TrustPolicyImage } from '../../build/trust-policy-file.ts';
import type { ManifestTrustPolicy } from '../../verifier/build-manifest.ts';

/** The checkout this CLI runs from: builds default to it. */
export function defaultSourceRoot(): string {
  return fileURLToPath(new URL('../../', import.meta.url));
}

/** Hand a coded build error to the dispatcher with its exit code; rethrow anything else. */
export function reportBuildError(e: unknown, _name: string, _stderr: Writable): never {
  if (!isBuildError(e)) throw e;
  throw new CommandError(e.code, e.message, BUILD_REFUSAL_CODES.has(e.code) ? EXIT_REFUSED : EXIT_USAGE);
}

/** Progress lines on stderr with elapsed seconds. */
export function progressTo(stderr: Writable): (message: string) => void {
  const start = Date.now();
  return (message) => stderr.write(`[${((Date.now() - start) / 1000).toFixed(1).padStart(5)}s] ${message}\n`);
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

/** Read and validate --trust-policy FILE (YAML or JSON); unreadable is a usage error. */
export function readTrustPolicyOption(cwd: string, file: string | undefined): TrustPolicyImage | undefined {
  if (file === undefined) return undefined;
  const path = resolve(cwd, file);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new UsageError(`cannot read trust policy ${path}: ${(e as Error).message}`);
  }
  return loadTrustPolicy(bytes, file);
}

/** Human lines about the image's trust policy: DEVELOPMENT as loudly as SIMULATED. */
export function trustPolicyLines(tp: ManifestTrustPolicy | null): string[] {
  if (tp === null) return ['NOTE: no trust policy (--trust-policy): the enclave will REFUSE EVERY PACK with this image.'];
  const lines = [`Trust policy: sha384 ${tp.sha384} (${tp.path})`];
  if (tp.development) lines.push('DEVELOPMENT trust policy — demo and tests only: run-enclave and doctor refuse it on a Nitro host; receipts say DEVELOPMENT.');
  return lines;
}

/** Run a build with SIGINT/SIGTERM cleanup of its temporaries (reproducible/interrupt.ts). */
export async function withInterruptCleanup<T>(stderr: Writable, kept: () => string[], run: () => Promise<T>): Promise<T> {
  const uninstall = installInterruptCleanup({ report: (line) => stderr.write(`attested-pack: ${line}\n`), kept, exit: (code) => process.exit(code) });
  try {
    return await run();
  } finally {
    uninstall();
  }
}

export const buildCommand: Command = {
  path: ['build'],
  summary: 'build the enclave image (EIF) reproducibly and write its build manifest',
  help: `Usage: attested-pack build [--trust-policy FILE] [--out DIR] [--blobs DIR | --dev-blobs] [--sign-cert PEM --sign-key PEM] [--json]

Builds attested-pack.eif and build-manifest.json from this checkout and the pinned inputs in
reproducible/inputs.lock.json (Node runtime via npm ci, socat and libraries via apt-get
download, all digest-checked and cached under .cache/attested-pack/). The same source and
inputs give a byte-identical EIF and the same PCRs on any machine.

Kernel and bootstrap ramdisk come from nitro-cli's blobs (--blobs DIR, $NITRO_CLI_BLOBS or
/usr/share/nitro_enclaves/blobs). Where none are installed, a DEVELOPMENT blob set (Debian
kernel + klibc init; boots under QEMU, not in an enclave) is used and the manifest says so.

The trust policy (docs/pack-policy.md: trusted CI issuers, repositories, refs, KMS keys per
environment) is measured into the image at /app/trust-policy.json (PCR2 and PCR0) and its
SHA-384 recorded in the manifest. Without --trust-policy the enclave refuses every pack.

Options:
  --trust-policy FILE  the pack trust policy, YAML or JSON (strict; canonicalised)
  --out DIR          output directory (default: out)
  --blobs DIR        nitro-cli blobs directory (bzImage, bzImage.config, cmdline, init, nsm.ko)
  --dev-blobs        use the development blob set even if nitro-cli blobs are installed
  --sign-cert PEM    sign the EIF (PCR8) with this certificate ...
  --sign-key PEM     ... and its EC private key (P-256/P-384/P-521); the certificate must be
                     valid now (nitro-cli refuses expired or not-yet-valid ones)
  --source DIR       checkout to build (default: the one this CLI runs from)
  --entry FILE       service entry point relative to the source (default: enclave/main.ts)
  --cache DIR        download cache (default: <source>/.cache/attested-pack)
  --rootfs-dir DIR   also write the image's root filesystem there: the build context of
                     Dockerfile.enclave, for users of nitro-cli build-enclave
  --json             print {eif, manifest, pcrs, size} as one JSON line on stdout

Progress goes to stderr. SIGINT/SIGTERM stops the build and removes its temporary files
(the download cache keeps only complete entries); temporaries of builds killed outright are
removed by the next build. Exit codes: 0 built, 1 a pinned input failed its digest check or
the signing certificate is not valid now, 2 usage or build error, 130/143 interrupted.
`,
  options: {
    out: { type: 'string' },
    blobs: { type: 'string' },
    'dev-blobs': { type: 'boolean' },
    'sign-cert': { type: 'string' },
    'sign-key': { type: 'string' },
    source: { type: 'string' },
    entry: { type: 'string' },
    cache: { type: 'string' },
    'rootfs-dir': { type: 'string' },
    'trust-policy': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run({ values, stdout, stderr, cwd, env }) {
    const certPath = stringOption(values, 'sign-cert');
    const keyPath = stringOption(values, 'sign-key');
    if ((certPath === undefined) !== (keyPath === undefined)) throw new UsageError('--sign-cert and --sign-key go together');
    const blobs = stringOption(values, 'blobs');
    if (blobs !== undefined && values['dev-blobs'] === true) throw new UsageError('--blobs and --dev-blobs exclude each other');
    const signing = certPath !== undefined && keyPath !== undefined
      ? { certificatePem: readText(resolve(cwd, certPath), 'certificate'), privateKeyPem: readText(resolve(cwd, keyPath), 'key') }
      : undefined;
    const source = stringOption(values, 'source');
    const cache = stringOption(values, 'cache');
    const entry = stringOption(values, 'entry');
    const rootfsDir = stringOption(values, 'rootfs-dir');
    const outDir = resolve(cwd, stringOption(values, 'out') ?? 'out');
    const sourceRoot = source === undefined ? defaultSourceRoot() : resolve(cwd, source);
    const kept = (): string[] => [`the download cache ${cache === undefined ? resolve(sourceRoot, '.cache/attested-pack') : resolve(cwd, cache)}`, `${outDir} as it was (no partial image)`];
    try {
      const trustPolicy = readTrustPolicyOption(cwd, stringOption(values, 'trust-policy'));
      const image = await withInterruptCleanup(stderr, kept, () => buildImage({
        sourceRoot,
        outDir,
        ...(cache !== undefined ? { cacheDir: resolve(cwd, cache) } : {}),
        ...(blobs !== undefined ? { blobsDir: resolve(cwd, blobs) } : {}),
        ...(entry !== undefined ? { entry } : {}),
        ...(rootfsDir !== undefined ? { rootfsDir: resolve(cwd, rootfsDir) } : {}),
        ...(signing !== undefined ? { signing } : {}),
        ...(trustPolicy !== undefined ? { trustPolicy } : {}),
        developmentBlobs: values['dev-blobs'] === true,
        env,
        progress: progressTo(stderr),
      }));
      const m = image.manifest;
      if (values.json === true) {
        writeJsonLine(stdout, { eif: image.eifPath, manifest: image.manifestPath, size: m.eif.size, sha384: m.eif.sha384, blobSet: m.blobSet.kind, pcrs: m.pcrs, trustPolicy: m.trustPolicy });
      } else {
        stdout.write(`Built ${image.eifPath} (${m.eif.size} bytes, blob set: ${m.blobSet.kind})\n`);
        stdout.write(`Manifest ${image.manifestPath}\n`);
        for (const [k, v] of Object.entries(m.pcrs)) stdout.write(`PCR${k}: ${v}\n`);
        for (const line of trustPolicyLines(m.trustPolicy)) stdout.write(`${line}\n`);
        if (m.blobSet.kind === 'development') stdout.write('NOTE: development blob set — boots under QEMU only, not in a Nitro Enclave.\n');
        if (m.project.sourceDirty) stdout.write('NOTE: the source has uncommitted changes (or is not a git checkout): the manifest says sourceDirty.\n');
      }
      return EXIT_OK;
    } catch (e) {
      return reportBuildError(e, 'build', stderr);
    }
  },
};
