// `rebuild` run from an installed package (not a checkout): stage the package with its
// shrinkwrapped dependency tree (reproducible/package-stage.ts) and run the staged copy's
// own `rebuild --source <staged>`, so every byte that goes into the image — sources, npm
// files, esbuild itself — is what the release was built from. docs/rebuild-from-package.md.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { isInstalledPackage, packageCacheDir, stagePackage } from '../../reproducible/package-stage.ts';
import { stringOption, type OptionValues } from '../command.ts';
import { defaultSourceRoot, reportBuildError } from './build.ts';

/** Set in the staged child so it rebuilds itself instead of staging again. */
const STAGED_ENV = 'ATTESTED_PACK_REBUILD_STAGED';

interface PackageRebuild {
  values: OptionValues;
  source: string | undefined;
  manifestPath: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdout: Writable;
  stderr: Writable;
}

/** The exit code of a staged rebuild, or undefined when this is a checkout (rebuild in place). */
export async function rebuildInstalledPackage(o: PackageRebuild): Promise<number | undefined> {
  const root = defaultSourceRoot();
  if (o.source !== undefined || o.env[STAGED_ENV] === '1' || !isInstalledPackage(root)) return undefined;
  const abs = (name: string): string[] => {
    const v = stringOption(o.values, name);
    return v === undefined ? [] : [`--${name}`, resolve(o.cwd, v)];
  };
  let staged: string;
  try {
    staged = stagePackage(root, o.env, (line) => o.stderr.write(`rebuild: ${line}\n`));
  } catch (e) {
    return reportBuildError(e, 'rebuild', o.stderr);
  }
  try {
    const args = [
      join(staged, 'bin', 'attested-pack'), 'rebuild', '--source', staged, '--manifest', o.manifestPath,
      ...abs('blobs'), ...abs('sign-cert'), ...abs('out'),
      '--cache', stringOption(o.values, 'cache') === undefined ? packageCacheDir(o.env) : resolve(o.cwd, stringOption(o.values, 'cache') as string),
      ...(o.values.json === true ? ['--json'] : []),
    ];
    const child = spawn(process.execPath, args, { cwd: o.cwd, env: { ...o.env, [STAGED_ENV]: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (c: Buffer) => o.stdout.write(c));
    child.stderr.on('data', (c: Buffer) => o.stderr.write(c));
    return await new Promise<number>((done) => child.on('close', (code) => done(code ?? 2)));
  } finally {
    rmSync(staged, { recursive: true, force: true });
  }
}
