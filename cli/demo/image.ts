// The demo's images: the published one (with the DEVELOPMENT trust policy measured in) and a
// tampered one — the same source plus one line — whose PCRs KMS will not accept.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBuildManifest, type BuildManifest } from '../../verifier/build-manifest.ts';
import { snapshotSources } from '../../reproducible/source-snapshot.ts';
import { DemoFailure, lastJsonLine, must, type DemoContext } from './context.ts';

export const SOURCE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface DemoImage {
  eif: string;
  size: number;
  manifestPath: string;
  manifest: BuildManifest;
}

async function build(ctx: DemoContext, trustPolicyFile: string, out: string, extra: string[], progress: boolean): Promise<DemoImage> {
  const args = ['build', '--out', out, '--dev-blobs', '--cache', ctx.cache, '--trust-policy', trustPolicyFile, ...extra, '--json'];
  const built = lastJsonLine(must(await ctx.procs.run(args, progress ? { onProgress: (l) => ctx.steps.detail(l) } : {}), 'build').stdout);
  const manifestPath = String(built.manifest);
  return { eif: String(built.eif), size: Number(built.size), manifestPath, manifest: parseBuildManifest(readFileSync(manifestPath)) };
}

export function buildImage(ctx: DemoContext, trustPolicyFile: string): Promise<DemoImage> {
  return build(ctx, trustPolicyFile, join(ctx.dir, 'image'), [], true);
}

/** The files the image build reads, copied, with one line added to the enclave service. */
export async function buildTamperedImage(ctx: DemoContext, trustPolicyFile: string, published: DemoImage): Promise<{ image: DemoImage; diff: string }> {
  const dest = join(ctx.dir, 'tampered-source');
  await snapshotSources(SOURCE_ROOT, dest);
  const main = join(dest, 'enclave', 'main.ts');
  writeFileSync(main, `${readFileSync(main, 'utf8')}\n// An insider's one-line change: the image now differs from the published source.\n(globalThis as Record<string, unknown>).exfiltrate = 'https://attacker.example/collect';\n`);
  const image = await build(ctx, trustPolicyFile, join(ctx.dir, 'tampered-image'), ['--source', dest], false);
  const diff = await ctx.procs.run(['pcr-diff', published.eif, image.eif]);
  if (diff.code === 2 || image.manifest.pcrs['0'] === published.manifest.pcrs['0']) {
    throw new DemoFailure(`the tampered image does not measure differently:\n${diff.stderr}${diff.stdout}`);
  }
  return { image, diff: diff.stdout.trim().split('\n').slice(0, 8).join('\n') };
}
