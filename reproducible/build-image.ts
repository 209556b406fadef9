// The whole image build: pinned inputs → rootfs → two deterministic ramdisks → EIF →
// build manifest. Same inputs give byte-identical output whatever the umask, TZ, locale,
// checkout path, file mtimes or machine: nothing here reads a clock, a file's metadata or
// the environment except what is recorded in the manifest.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { BUILD_MANIFEST_SCHEMA, TRUST_POLICY_IMAGE_PATH, serializeBuildManifest, type BuildInput, type BuildManifest } from '../verifier/build-manifest.ts';
import { writeCpio } from '../build/cpio.ts';
import { buildFail } from '../build/errors.ts';
import { writeEif } from '../build/eif.ts';
import { computeEifPcrs, pcrHex, type EifPcrs } from '../build/pcrs.ts';
import { bundleEntry } from '../build/bundle.ts';
import { bootstrapRamdiskEntries, findNitroCliBlobs, loadNitroCliBlobs, type BlobSet } from '../build/blobs.ts';
import { appRamdiskEntries, cmdFile, envFile, type AppImage, type RootfsEntry } from '../build/app-ramdisk.ts';
import { ENCLAVE_CMD, ENCLAVE_ENV, IMAGE_NODE_MODULE_FILES, IMAGE_PATHS } from '../build/image-layout.ts';
import { buildEifMetadata, kernelVersionFromConfig } from '../build/metadata.ts';
import { certificateDer, createEifSignature, type SigningMaterial } from '../build/eif-signature.ts';
import { assertSigningCertValid } from '../build/signing-cert-dates.ts';
import type { TrustPolicyImage } from '../build/trust-policy-file.ts';
import { keepAfterInterrupt, removeOnInterrupt, removeStaleTemps } from './interrupt.ts';
import { loadInputsLock, type InputsLock } from './lock.ts';
import { fetchDeb, fetchNodeRuntime, sha256Hex, sha384Hex, type Progress } from './fetch-inputs.ts';
import { developmentBlobSet } from './dev-blobs.ts';

export const EIF_FILE_NAME = 'attested-pack.eif';
export const MANIFEST_FILE_NAME = 'build-manifest.json';

export interface BuildImageOptions {
  /** Checkout to build from (enclave sources, reproducible/ lock and pinned files). */
  sourceRoot: string;
  /** Where attested-pack.eif and build-manifest.json go; omit to build in memory only. */
  outDir?: string;
  /** Download/extract cache shared between builds (default <sourceRoot>/.cache/attested-pack). */
  cacheDir?: string;
  /** nitro-cli blobs directory; default $NITRO_CLI_BLOBS or the nitro-cli install, else development blobs. */
  blobsDir?: string;
  /** Force the development blob set even where nitro-cli's blobs are installed. */
  developmentBlobs?: boolean;
  /** Service entry point, relative to sourceRoot (default enclave/main.ts). */
  entry?: string;
  signing?: SigningMaterial;
  /** The trust anchor (build/trust-policy-file.ts loadTrustPolicy); absent: an image that refuses every pack. */
  trustPolicy?: TrustPolicyImage;
  /** Clock for the signing certificate's validity check (default: now). */
  now?: Date;
  /** Also write the image's root filesystem there (the build context of Dockerfile.enclave). */
  rootfsDir?: string;
  /** Overrides the lock's SOURCE_DATE_EPOCH. */
  sourceDateEpoch?: number;
  env?: NodeJS.ProcessEnv;
  progress?: Progress;
}

export interface BuiltImage {
  eif: Uint8Array;
  manifest: BuildManifest;
  manifestText: string;
  pcrs: EifPcrs;
  ramdisks: Uint8Array[];
  blobSet: BlobSet;
  app: AppImage;
  eifPath?: string;
  manifestPath?: string;
}

const TOOL_VERSION = '0.1.0';
/** Packages the service bundle leaves as runtime imports. koffi is a native addon. */
export const BUNDLE_EXTERNALS = ['koffi'];

function gitState(root: string): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const status = execFileSync('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    if (/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(commit)) return { commit, dirty: status.trim() !== '' };
  } catch {
    // not a git checkout
  }
  return { commit: '0'.repeat(40), dirty: true };
}

/** Every file of the image root and where its bytes come from: one list for the build and Dockerfile.enclave. */
export function rootfsPlan(lock: InputsLock, opts: { trustPolicy: boolean }): Array<{ path: string; mode: number; from: 'node' | 'service' | 'launcher' | 'caBundle' | 'trustPolicy' | 'deb' | 'npm' }> {
  return [
    { path: IMAGE_PATHS.node, mode: 0o755, from: 'node' },
    { path: IMAGE_PATHS.service, mode: 0o644, from: 'service' },
    { path: IMAGE_PATHS.launcher, mode: 0o644, from: 'launcher' },
    { path: IMAGE_PATHS.caBundle, mode: 0o644, from: 'caBundle' },
    ...(opts.trustPolicy ? [{ path: IMAGE_PATHS.trustPolicy, mode: 0o644, from: 'trustPolicy' as const }] : []),
    ...IMAGE_NODE_MODULE_FILES.map((f) => ({ path: `app/${f}`, mode: 0o644, from: 'npm' as const })),
    ...lock.debs.filter((d) => d.use === 'rootfs').flatMap((d) => d.files.map((f) => ({ path: f.to, mode: f.mode, from: 'deb' as const }))),
  ];
}

function stageRootfs(dir: string, rootfs: RootfsEntry[]): void {
  for (const e of rootfs) {
    if (e.type !== 'file') continue;
    const path = join(dir, e.path);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, e.data);
    chmodSync(path, e.mode); // explicit: the umask must not decide the staged modes
  }
}

/** SOURCE_DATE_EPOCH (reproducible-builds.org convention) overrides the lock's default. */
function epochFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return undefined;
  if (!/^[0-9]{1,12}$/.test(raw)) buildFail('LOCK_MALFORMED', `SOURCE_DATE_EPOCH must be a whole number of seconds, not ${JSON.stringify(raw)}`);
  return Number(raw);
}

function input(name: string, source: string, data: Uint8Array): BuildInput {
  return { name, source, sha384: sha384Hex(data), size: data.length };
}

export async function buildImage(opts: BuildImageOptions): Promise<BuiltImage> {
  const progress: Progress = opts.progress ?? (() => undefined);
  const env = opts.env ?? process.env;
  const root = resolve(opts.sourceRoot);
  const cacheDir = resolve(opts.cacheDir ?? join(root, '.cache', 'attested-pack'));
  const lock = loadInputsLock(root);
  const epoch = opts.sourceDateEpoch ?? epochFromEnv(env) ?? lock.sourceDateEpoch;
  const inputs: BuildInput[] = [];
  // An expired or not-yet-valid signing certificate is refused before any work: nitro-cli would refuse the image.
  if (opts.signing !== undefined) assertSigningCertValid(certificateDer(opts.signing.certificatePem), opts.now ?? new Date());
  // Debris of builds that were killed outright (their PID is gone).
  const outDir = opts.outDir === undefined ? undefined : resolve(opts.outDir);
  for (const path of removeStaleTemps([cacheDir, join(cacheDir, 'debs'), ...(outDir === undefined ? [] : [outDir])])) progress(`removed stale temporary ${path}`);
  // nitro-cli blobs are checked first: a wrong --blobs directory fails before any download.
  const nitroDir = opts.developmentBlobs === true ? undefined : (opts.blobsDir ?? findNitroCliBlobs(env));
  const nitroBlobs = nitroDir === undefined ? undefined : loadNitroCliBlobs(nitroDir);

  // 1. Pinned inputs.
  const nodeBinary = fetchNodeRuntime(lock, root, cacheDir, progress);
  inputs.push(input('node-runtime', `${lock.nodeRuntime.package}@${lock.nodeRuntime.version}/${lock.nodeRuntime.binary}`, nodeBinary));
  // The development blob packages (a 70 MB kernel) are fetched only when they are used.
  const fetched = lock.debs.filter((d) => d.use === 'rootfs' || nitroBlobs === undefined).map((d) => fetchDeb(d, cacheDir, progress));
  for (const f of fetched) inputs.push({ name: `deb:${f.deb.package}`, source: `${f.deb.package}=${f.deb.version} sha256:${f.deb.sha256}`, sha384: f.sha384, size: f.size });

  // 2. Blob set: explicit dir, installed nitro-cli, or the labelled development set.
  const blobSet: BlobSet = nitroBlobs ?? developmentBlobSet(root, fetched.filter((f) => f.deb.use === 'dev-blobs'));
  progress(`blob set: ${blobSet.kind}`);
  const blobData: Record<string, Uint8Array> = { bzImage: blobSet.kernel, 'bzImage.config': blobSet.kernelConfig, cmdline: Buffer.from(blobSet.cmdline), init: blobSet.init, 'nsm.ko': blobSet.nsmKo };
  for (const x of blobSet.extraBootstrapFiles) blobData[x.path] = x.data;
  for (const [name, data] of Object.entries(blobData)) inputs.push(input(`blob:${name}`, blobSet.sources[name] ?? name, data));

  // 3. Bundles: the service (enclave/main.ts) and the launcher that bridges vsock to it.
  progress('bundling the enclave service (esbuild)');
  const service = await bundleEntry({ entry: opts.entry ?? 'enclave/main.ts', sourceRoot: root, external: BUNDLE_EXTERNALS });
  const launcher = await bundleEntry({ entry: 'build/enclave-launcher.ts', sourceRoot: root });
  inputs.push(input('enclave-bundle', `${opts.entry ?? 'enclave/main.ts'} (${service.inputs.length} files, esbuild)`, service.code));
  inputs.push(input('launcher-bundle', 'build/enclave-launcher.ts (esbuild)', launcher.code));
  const caBundle = readFileSync(join(root, 'reproducible', 'ca', 'amazon-roots.pem'));
  inputs.push(input('ca-bundle', 'reproducible/ca/amazon-roots.pem (Amazon Root CA 1-4)', caBundle));

  // 4. Root filesystem and ramdisks.
  const debFiles = new Map<string, Uint8Array>();
  for (const f of fetched) for (const [to, file] of f.files) if (f.deb.use === 'rootfs') debFiles.set(to, file.data);
  const own: Record<string, Uint8Array> = { node: nodeBinary, service: service.code, launcher: launcher.code, caBundle };
  if (opts.trustPolicy !== undefined) {
    own.trustPolicy = opts.trustPolicy.bytes;
    inputs.push(input('trust-policy', `--trust-policy (canonical JSON${opts.trustPolicy.development ? ', DEVELOPMENT' : ''})`, opts.trustPolicy.bytes));
  }
  const npmFiles = new Map<string, Uint8Array>();
  for (const f of IMAGE_NODE_MODULE_FILES) {
    let data: Uint8Array;
    try {
      data = readFileSync(join(root, f));
    } catch (e) {
      buildFail('INPUT_UNAVAILABLE', `${f} is missing (run npm ci): ${(e as Error).message}`);
    }
    npmFiles.set(`app/${f}`, data);
    inputs.push(input(`npm:${f.slice('node_modules/'.length)}`, `${f} (root package-lock.json)`, data));
  }
  const rootfs: RootfsEntry[] = rootfsPlan(lock, { trustPolicy: opts.trustPolicy !== undefined }).map((p) => ({
    type: 'file',
    path: p.path,
    mode: p.mode,
    data: (p.from === 'deb' ? debFiles.get(p.path) : p.from === 'npm' ? npmFiles.get(p.path) : own[p.from]) ?? buildFail('INPUT_UNAVAILABLE', `no data for image file ${p.path}`),
  }));
  if (opts.rootfsDir !== undefined) stageRootfs(resolve(opts.rootfsDir), rootfs);
  const app: AppImage = { rootfs, cmd: ENCLAVE_CMD, env: ENCLAVE_ENV };
  progress('writing ramdisks (deterministic cpio)');
  const bootstrap = writeCpio(bootstrapRamdiskEntries(blobSet), { mtime: epoch });
  const appRamdisk = writeCpio(appRamdiskEntries(app), { mtime: epoch });
  inputs.push(input('cmd', 'build/image-layout.ts ENCLAVE_CMD', Buffer.from(cmdFile(app.cmd))));
  inputs.push(input('env', 'build/image-layout.ts ENCLAVE_ENV', Buffer.from(envFile(app.env))));
  inputs.push(input('ramdisk:bootstrap', 'cpio newc of dev/, init, nsm.ko', bootstrap));
  inputs.push(input('ramdisk:application', 'cpio newc of rootfs/, cmd, env', appRamdisk));

  // 5. EIF.
  progress('writing the EIF');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name?: string; version?: string };
  const kernel = blobSet.kernel;
  const cmdline = Buffer.from(blobSet.cmdline, 'utf8');
  const ramdisks = [bootstrap, appRamdisk];
  const certDer = opts.signing === undefined ? undefined : certificateDer(opts.signing.certificatePem);
  const pcrs = computeEifPcrs({ kernel, cmdline, ramdisks }, certDer);
  const metadata = buildEifMetadata({
    imageName: pkg.name ?? 'attested-pack',
    imageVersion: pkg.version ?? '0.0.0',
    sourceDateEpoch: epoch,
    toolVersion: TOOL_VERSION,
    kernelVersion: kernelVersionFromConfig(blobSet.kernelConfig),
    custom: { blobSet: blobSet.kind },
  });
  const signature = opts.signing === undefined ? undefined : createEifSignature(pcrs[0], opts.signing);
  const eif = writeEif(signature === undefined ? { kernel, cmdline, metadata, ramdisks } : { kernel, cmdline, metadata, ramdisks, signature });

  const git = gitState(root);
  const manifest: BuildManifest = {
    schema: BUILD_MANIFEST_SCHEMA,
    project: { name: pkg.name ?? 'attested-pack', version: pkg.version ?? '0.0.0', sourceCommit: git.commit, sourceDirty: git.dirty },
    blobSet: { kind: blobSet.kind, description: blobSet.description },
    sourceDateEpoch: epoch,
    inputs,
    eif: { file: EIF_FILE_NAME, sha384: sha384Hex(eif), size: eif.length },
    pcrs: pcrHex(pcrs),
    trustPolicy: null,
  };
  if (certDer !== undefined) manifest.signingCertificateSha256 = sha256Hex(certDer);
  manifest.trustPolicy = opts.trustPolicy === undefined ? null : { sha384: opts.trustPolicy.sha384, development: opts.trustPolicy.development, path: TRUST_POLICY_IMAGE_PATH };
  const manifestText = serializeBuildManifest(manifest);
  const result: BuiltImage = { eif, manifest, manifestText, pcrs, ramdisks, blobSet, app };
  if (outDir !== undefined) await writeOutputs(outDir, result);
  return result;
}

/** Write-then-rename: an interrupted or crashed build never leaves a half-written EIF under the real name. */
async function writeOutputs(out: string, result: BuiltImage): Promise<void> {
  mkdirSync(out, { recursive: true });
  result.eifPath = join(out, EIF_FILE_NAME);
  result.manifestPath = join(out, MANIFEST_FILE_NAME);
  const tmp = removeOnInterrupt(`${result.eifPath}.tmp-${process.pid}`);
  // Chunked asynchronous writes: SIGINT/SIGTERM is handled while a 150 MB image is written.
  const fh = await open(tmp, 'w', 0o644);
  try {
    const chunk = 8 * 1024 * 1024;
    for (let at = 0; at < result.eif.length; at += chunk) await fh.write(result.eif, at, Math.min(chunk, result.eif.length - at));
  } finally {
    await fh.close();
  }
  renameSync(tmp, result.eifPath);
  keepAfterInterrupt(tmp);
  writeFileSync(result.manifestPath, result.manifestText);
}
