#!/usr/bin/env node
// npm-shrinkwrap.json for the attested-pack package (run by `prepack`; `postpack` removes
// it): the exact runtime dependency tree of package-lock.json — the tree the enclave
// bundle is built from — so that installing the package installs those versions, and
// `rebuild` from an installed package bundles the same bytes (docs/rebuild-from-package.md).
// Kept: every lock entry reachable from the root's dependencies, optionalDependencies and
// peerDependencies, following Node's node_modules lookup. Dropped: dev-only entries and
// the workspaces (cdk/, packages/verifier/), which are not part of this package.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const SHRINKWRAP = join(ROOT, 'npm-shrinkwrap.json');

/** Where `name`, required from the package at `from`, resolves in the lock (or undefined). */
function resolveIn(packages, from, name) {
  let dir = from;
  for (;;) {
    const candidate = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`;
    if (packages[candidate] !== undefined) return candidate;
    if (dir === '') return undefined;
    const cut = dir.lastIndexOf('/node_modules/');
    dir = cut < 0 ? '' : dir.slice(0, cut);
  }
}

export function runtimeLock(lock) {
  const packages = lock.packages;
  const keep = new Set();
  const queue = [''];
  while (queue.length > 0) {
    const at = queue.shift();
    const entry = packages[at];
    const deps = { ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies };
    for (const name of Object.keys(deps)) {
      const found = resolveIn(packages, at, name);
      if (found === undefined) {
        if (entry.optionalDependencies?.[name] !== undefined || entry.peerDependenciesMeta?.[name]?.optional) continue;
        throw new Error(`package-lock.json: ${at || '(root)'} needs ${name}, which the lock does not have`);
      }
      if (packages[found].link) throw new Error(`package-lock.json: runtime dependency ${name} is a workspace link`);
      if (!keep.has(found)) {
        keep.add(found);
        queue.push(found);
      }
    }
  }
  const { devDependencies: _dev, workspaces: _ws, ...root } = packages[''];
  const out = { '': root };
  for (const path of [...keep].sort()) {
    const { dev: _d, devOptional, ...entry } = packages[path];
    out[path] = devOptional ? { ...entry, optional: true } : entry;
  }
  return { name: lock.name, version: lock.version, lockfileVersion: lock.lockfileVersion, requires: true, packages: out };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv[2] === '--remove') rmSync(SHRINKWRAP, { force: true });
  else {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
    const wrap = runtimeLock(lock);
    writeFileSync(SHRINKWRAP, `${JSON.stringify(wrap, null, 2)}\n`);
    process.stderr.write(`npm-shrinkwrap.json: ${Object.keys(wrap.packages).length - 1} runtime packages\n`);
  }
}
