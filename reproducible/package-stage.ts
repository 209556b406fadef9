// Rebuilding from an installed attested-pack package. The package ships the exact runtime
// dependency tree the enclave bundle was built from (npm-shrinkwrap.json, written at pack
// time by scripts/shrinkwrap.mjs), but an installation does not reproduce it faithfully:
// npm hoists dependencies into the consumer's node_modules, and may resolve other versions
// (installs from a tarball file ignore a dependency's shrinkwrap). So `rebuild` from a
// package stages a copy: the package's files, with node_modules installed by `npm ci` from
// that shrinkwrap — the same versions at the same paths as in the release checkout — and
// runs the rebuild with the staged copy's own code (its own esbuild included).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFail } from '../build/errors.ts';

/** A package (not a checkout): it carries npm-shrinkwrap.json and no package-lock.json. */
export function isInstalledPackage(root: string): boolean {
  return existsSync(join(root, 'npm-shrinkwrap.json')) && !existsSync(join(root, 'package-lock.json')) && !existsSync(join(root, '.git'));
}

/** Default download cache for package rebuilds (an installed package may be read-only). */
export function packageCacheDir(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'attested-pack');
}

/**
 * Copies the package into a new directory and installs its shrinkwrapped runtime
 * dependencies there with `npm ci` (no scripts: the package is already compiled, and the
 * image takes only files from node_modules). Returns the staged root; the caller removes it.
 */
export function stagePackage(root: string, env: NodeJS.ProcessEnv, log: (line: string) => void): string {
  const dest = mkdtempSync(join(tmpdir(), 'attested-pack-rebuild-'));
  for (const name of readdirSync(root)) {
    if (name === 'node_modules') continue;
    cpSync(join(root, name), join(dest, name), { recursive: true });
  }
  // npm ci insists that package.json and the lock agree; the lock describes the runtime
  // tree only, so the staged package.json keeps only what the lock's root entry says.
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  const { devDependencies: _dev, workspaces: _ws, scripts: _scripts, ...runtime } = pkg;
  writeFileSync(join(dest, 'package.json'), `${JSON.stringify(runtime, null, 2)}\n`);
  log('installing the shrinkwrapped dependency tree (npm ci --omit=dev --ignore-scripts)');
  const r = spawnSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dest, env, encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(dest, { recursive: true, force: true });
    buildFail('INPUT_UNAVAILABLE', `npm ci of the package's npm-shrinkwrap.json failed: ${(r.stderr ?? r.error?.message ?? '').trim().slice(0, 2000)}`);
  }
  return dest;
}
