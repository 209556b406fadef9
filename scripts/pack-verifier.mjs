#!/usr/bin/env node
// Assembles @attested-pack/verifier (packages/verifier/) from this repository's sources:
// the compiled JavaScript of everything `verifier/index.ts` (the library) and
// `cli/verify-main.ts` (the `attested-pack-verify` command) reach, copied with its
// repository layout so relative imports stay as they are, plus type declarations of the
// library. Run by the package's `prepack`, so `npm pack -w @attested-pack/verifier` always
// ships the current sources.
//
// The package must depend on nothing but Node's standard library: every import the two
// entry points reach is checked, and anything outside this repository other than a
// `node:` built-in stops the pack with the importing file named.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from './compile.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PACKAGE = join(ROOT, 'packages', 'verifier');
const ENTRIES = ['verifier/index.ts', 'cli/verify-main.ts'];
/** Folders of PACKAGE that this script writes (gitignored). */
export const GENERATED = ['verifier', 'cli'];

const BUILTINS = new Set(builtinModules);

/** Repository files the entry points reach; throws on any import that is not a Node built-in. */
export async function verifierClosure(root = ROOT) {
  const result = await build({
    absWorkingDir: root,
    entryPoints: ENTRIES,
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    outdir: 'unused',
    splitting: true,
    logLevel: 'silent',
    plugins: [{
      name: 'only-node-builtins',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) => {
          const name = args.path.startsWith('node:') ? args.path.slice(5) : args.path;
          if (!BUILTINS.has(name)) {
            throw new Error(`@attested-pack/verifier depends only on Node's standard library, but ${args.importer.slice(root.length)} imports '${args.path}'`);
          }
          return { path: args.path, external: true };
        });
      },
    }],
  });
  return Object.keys(result.metafile.inputs).sort();
}

export async function assemble(root = ROOT) {
  await compile(root);
  const files = await verifierClosure(root);
  for (const d of GENERATED) rmSync(join(PACKAGE, d), { recursive: true, force: true });
  for (const f of files) {
    const js = f.replace(/\.ts$/, '.js');
    mkdirSync(dirname(join(PACKAGE, js)), { recursive: true });
    cpSync(join(root, js), join(PACKAGE, js));
  }
  // Type declarations for the library entry (the CLI modules need none).
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, 'verifier/index.ts', '--declaration', '--emitDeclarationOnly', '--outDir', PACKAGE,
    '--rootDir', '.', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--lib', 'es2023',
    '--types', 'node', '--strict', '--skipLibCheck', '--allowImportingTsExtensions', '--rewriteRelativeImportExtensions',
    '--verbatimModuleSyntax'], { cwd: root, stdio: 'inherit' });
  // tsc keeps the sources' `.ts` specifiers in declarations; consumers resolve `.js`.
  const typesDir = join(PACKAGE, 'verifier');
  for (const f of readdirSync(typesDir).filter((n) => n.endsWith('.d.ts'))) {
    const text = readFileSync(join(typesDir, f), 'utf8');
    writeFileSync(join(typesDir, f), text.replace(/((?:from|import\()\s*'\.{1,2}\/[^']+)\.ts'/g, "$1.js'"));
  }
  return files;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const files = await assemble();
  process.stderr.write(`@attested-pack/verifier: ${files.length} modules from ${ENTRIES.join(', ')}\n`);
}
