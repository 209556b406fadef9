// Deterministic esbuild bundle of an entry point. esbuild's output depends only on its
// version, options and the input files; we pin the options here and make paths in the
// output relative to the source root (absWorkingDir), so the checkout path never leaks.
import { build } from 'esbuild';
import { relative, resolve } from 'node:path';
import { buildFail } from './errors.ts';

export interface BundleOptions {
  /** Entry file (absolute, or relative to sourceRoot). */
  entry: string;
  /** Root of the source checkout; output paths are relative to it. */
  sourceRoot: string;
  /** Packages left as runtime imports (native addons). */
  external?: string[];
}

export interface BundleResult {
  code: Uint8Array;
  /** Input files (relative to sourceRoot, '/'-separated) that went into the bundle. */
  inputs: string[];
}

// ESM output has no `require`; CommonJS dependencies bundled in need one for node built-ins.
const BANNER = "import { createRequire as __apCreateRequire } from 'node:module'; const require = __apCreateRequire(import.meta.url);";

export async function bundleEntry(opts: BundleOptions): Promise<BundleResult> {
  const root = resolve(opts.sourceRoot);
  const entry = resolve(root, opts.entry);
  try {
    const result = await build({
      absWorkingDir: root,
      entryPoints: [relative(root, entry)],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      write: false,
      metafile: true,
      sourcemap: false,
      // Minified to keep the image within its size budget (Node binary + 25 MB); keepNames
      // so error and class names (which code and logs rely on) survive.
      minify: true,
      keepNames: true,
      legalComments: 'none',
      charset: 'utf8',
      // Keep node_modules paths as seen from the checkout (a symlinked node_modules must not
      // put its real location into the bundle's path comments).
      preserveSymlinks: true,
      logLevel: 'silent',
      banner: { js: BANNER },
      external: opts.external ?? [],
      outfile: 'bundle.mjs',
    });
    const file = result.outputFiles[0];
    if (file === undefined) buildFail('BUNDLE_FAILED', 'esbuild produced no output');
    const inputs = Object.keys(result.metafile.inputs).map((p) => p.split('\\').join('/')).sort();
    return { code: file.contents, inputs };
  } catch (e) {
    if (e instanceof Error && 'errors' in e) {
      const errors = (e as { errors: Array<{ text: string; location?: { file: string; line: number } | null }> }).errors;
      buildFail('BUNDLE_FAILED', errors.map((x) => `${x.location ? `${x.location.file}:${x.location.line}: ` : ''}${x.text}`).join('; '));
    }
    throw e;
  }
}
