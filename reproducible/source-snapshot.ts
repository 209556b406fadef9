// Copy exactly the files an image build reads from a checkout (the bundles' inputs, the
// lock, runtime package, CA bundle, development blob files, package.json, tsconfig.json)
// into another directory; node_modules is linked, not copied. Used to rebuild from a frozen
// snapshot while the working tree keeps changing, and by the reproducibility tests.
import { cpSync, mkdirSync, readdirSync, statSync, symlinkSync, utimesSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { bundleEntry } from '../build/bundle.ts';
import { BUNDLE_EXTERNALS } from './build-image.ts';

export interface SnapshotOptions {
  /** Set every copied file's mtime (tests use it to prove mtimes do not matter). */
  mtime?: Date;
  /** Service entry point (default enclave/main.ts). */
  entry?: string;
}

export async function snapshotSources(sourceRoot: string, dest: string, opts: SnapshotOptions = {}): Promise<string[]> {
  const root = resolve(sourceRoot);
  const service = await bundleEntry({ entry: opts.entry ?? 'enclave/main.ts', sourceRoot: root, external: BUNDLE_EXTERNALS });
  const launcher = await bundleEntry({ entry: 'build/enclave-launcher.ts', sourceRoot: root });
  const files = new Set([...service.inputs, ...launcher.inputs].filter((p) => !p.startsWith('node_modules/')));
  for (const f of ['package.json', 'tsconfig.json', 'reproducible/inputs.lock.json']) files.add(f);
  for (const dir of ['reproducible/runtime', 'reproducible/ca', 'reproducible/dev-blobs']) {
    for (const f of readdirSync(join(root, dir))) if (statSync(join(root, dir, f)).isFile()) files.add(`${dir}/${f}`);
  }
  const sorted = [...files].sort();
  for (const f of sorted) {
    mkdirSync(dirname(join(dest, f)), { recursive: true });
    cpSync(join(root, f), join(dest, f));
    if (opts.mtime !== undefined) utimesSync(join(dest, f), opts.mtime, opts.mtime);
  }
  symlinkSync(join(root, 'node_modules'), join(dest, 'node_modules'));
  return sorted;
}
