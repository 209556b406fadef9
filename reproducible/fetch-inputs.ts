// Fetching pinned inputs into the cache (.cache/ by default, shared between builds) and
// checking every byte against the lock before use. Debian packages come through
// `apt-get download` (the machine's configured apt sources), the Node runtime through
// `npm ci` of reproducible/runtime (its lockfile pins the tarball's integrity).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildFail } from '../build/errors.ts';
import type { DebFile, InputsLock, PinnedDeb } from './lock.ts';
import { keepAfterInterrupt, removeOnInterrupt } from './interrupt.ts';

export type Progress = (message: string) => void;

import { sha256Hex, sha384Hex } from '../verifier/digest.ts';

export { sha256Hex, sha384Hex };

function run(cmd: string, args: string[], cwd: string): void {
  try {
    execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    buildFail('INPUT_UNAVAILABLE', `${cmd} ${args.join(' ')} failed: ${err.stderr?.toString().trim() || err.message}`);
  }
}

let aptListsRefreshed = false;

/**
 * `apt-get download` of one pinned version. On a fresh machine the package lists may be
 * empty or stale; as root the build refreshes them once (`apt-get update`) and tries again,
 * otherwise the error says to.
 */
function downloadDeb(deb: PinnedDeb, dir: string, progress: Progress): void {
  try {
    run('apt-get', ['download', '-q', `${deb.package}=${deb.version}`], dir);
  } catch (e) {
    if (aptListsRefreshed || process.getuid?.() !== 0) {
      if (process.getuid?.() !== 0 && e instanceof Error) {
        e.message += ' (if the apt package lists are empty or stale, run `apt-get update` as root and build again)';
      }
      if (deb.version.includes('~bpo') && e instanceof Error) {
        e.message += ' (a bookworm-backports package: add that suite with reproducible/apt-backports.sh, as root)';
      }
      throw e;
    }
    progress('apt package lists missing or stale: running apt-get update once');
    aptListsRefreshed = true;
    run('apt-get', ['update', '-qq'], dir);
    run('apt-get', ['download', '-q', `${deb.package}=${deb.version}`], dir);
  }
}

/** Move a finished temporary directory into place; if another process got there first, keep theirs. */
function publish(tmp: string, final: string): void {
  try {
    renameSync(tmp, final);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Fill a fresh temporary directory with `fill`; it is removed if `fill` throws (a download
 * or extraction killed by Ctrl-C) and on SIGINT/SIGTERM (interrupt.ts), so no partial
 * directory stays in the cache.
 */
function withTempDir<T>(tmp: string, fill: (dir: string) => T): T {
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(removeOnInterrupt(tmp), { recursive: true });
  try {
    return fill(tmp);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    keepAfterInterrupt(tmp);
  }
}

/**
 * A packaged .xz file, decompressed with xz-utils' `xz` (the format has one meaning; the
 * pinned SHA-384 of the result still decides, so a different decoder cannot slip through).
 */
function decompressXz(deb: PinnedDeb, f: DebFile, src: string): Uint8Array {
  let data: Buffer;
  try {
    data = execFileSync('xz', ['--decompress', '--stdout', '--', src], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
  } catch (e) {
    buildFail('INPUT_UNAVAILABLE', `xz --decompress ${f.from} failed (install xz-utils): ${(e as Error).message}`);
  }
  const actual = sha384Hex(data);
  if (actual !== f.xz?.sha384) {
    buildFail('INPUT_DIGEST_MISMATCH', `${deb.package}=${deb.version} ${f.from} decompresses to SHA-384 ${actual}, the lock pins ${f.xz?.sha384}`);
  }
  return data;
}

export interface FetchedDeb {
  deb: PinnedDeb;
  /** The .deb file's bytes digest (SHA-384, for the manifest). */
  sha384: string;
  size: number;
  /** Files named in the lock, by their `to` path. */
  files: Map<string, { data: Uint8Array; mode: number }>;
}

/** Download (once), verify by SHA-256 and extract one pinned Debian package. */
export function fetchDeb(deb: PinnedDeb, cacheDir: string, progress: Progress): FetchedDeb {
  const dir = join(cacheDir, 'debs');
  mkdirSync(dir, { recursive: true });
  const fileName = `${deb.package}_${deb.version.replace(/:/g, '%3a')}_${deb.sha256.slice(0, 16)}.deb`;
  const path = join(dir, fileName);
  if (!existsSync(path)) {
    progress(`fetching ${deb.package}=${deb.version} (apt-get download)`);
    withTempDir(join(dir, `tmp-${process.pid}-${deb.package}`), (tmp) => {
      downloadDeb(deb, tmp, progress);
      const got = readdirSync(tmp).filter((f) => f.endsWith('.deb'));
      if (got.length !== 1) buildFail('INPUT_UNAVAILABLE', `apt-get download ${deb.package}=${deb.version} produced ${got.length} files`);
      renameSync(join(tmp, got[0] as string), path);
    });
  }
  const bytes = readFileSync(path);
  const actual = sha256Hex(bytes);
  if (actual !== deb.sha256) {
    rmSync(path, { force: true });
    buildFail('INPUT_DIGEST_MISMATCH', `${deb.package}=${deb.version}: .deb SHA-256 is ${actual}, the lock pins ${deb.sha256} (the file was removed from the cache)`);
  }
  const root = join(dir, `${fileName}.d`);
  if (!existsSync(root)) {
    // Extract aside and rename into place: concurrent builds sharing the cache (parallel
    // test files) never see a half-extracted tree.
    withTempDir(`${root}.tmp-${process.pid}`, (tmp) => {
      run('dpkg-deb', ['-x', path, tmp], dir);
      publish(tmp, root);
    });
  }
  const files = new Map<string, { data: Uint8Array; mode: number }>();
  for (const f of deb.files) {
    const src = join(root, f.from);
    if (!existsSync(src)) buildFail('INPUT_UNAVAILABLE', `${deb.package}=${deb.version} has no file ${f.from}`);
    files.set(f.to, { data: f.xz === undefined ? readFileSync(src) : decompressXz(deb, f, src), mode: f.mode });
  }
  return { deb, sha384: sha384Hex(bytes), size: bytes.length, files };
}

/** Install the pinned Node runtime with `npm ci` into the cache (once) and check the binary. */
export function fetchNodeRuntime(lock: InputsLock, sourceRoot: string, cacheDir: string, progress: Progress): Uint8Array {
  const pkgDir = join(sourceRoot, 'reproducible', 'runtime');
  const lockText = readFileSync(join(pkgDir, 'package-lock.json'));
  const dir = join(cacheDir, `node-runtime-${sha256Hex(lockText).slice(0, 16)}`);
  const binary = join(dir, 'node_modules', lock.nodeRuntime.package, lock.nodeRuntime.binary);
  if (!existsSync(binary)) {
    progress(`installing ${lock.nodeRuntime.package}@${lock.nodeRuntime.version} (npm ci)`);
    withTempDir(`${dir}.tmp-${process.pid}`, (tmp) => {
      copyFileSync(join(pkgDir, 'package.json'), join(tmp, 'package.json'));
      copyFileSync(join(pkgDir, 'package-lock.json'), join(tmp, 'package-lock.json'));
      run('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], tmp);
      publish(tmp, dir);
    });
  }
  const bytes = readFileSync(binary);
  const actual = sha384Hex(bytes);
  if (actual !== lock.nodeRuntime.sha384) {
    buildFail('INPUT_DIGEST_MISMATCH', `Node runtime binary SHA-384 is ${actual}, the lock pins ${lock.nodeRuntime.sha384}`);
  }
  return bytes;
}
