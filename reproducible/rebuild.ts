// Rebuild from source and compare with a published build manifest: every input digest and
// every PCR. The report names each difference; a match means the published PCRs come from
// this source and these pinned inputs.
import { parseBuildManifest, type BuildManifest } from '../verifier/build-manifest.ts';
import { buildFail } from '../build/errors.ts';
import { findNitroCliBlobs } from '../build/blobs.ts';
import { certificateDer } from '../build/eif-signature.ts';
import { extendOnce } from '../build/pcrs.ts';
import { buildImage, type BuiltImage } from './build-image.ts';
import type { Progress } from './fetch-inputs.ts';
import type { TrustPolicyImage } from '../build/trust-policy-file.ts';

export interface RebuildOptions {
  manifestText: string;
  sourceRoot: string;
  cacheDir?: string;
  blobsDir?: string;
  /** The signing certificate, to recompute PCR8 of a signed build (nothing is signed). */
  signingCertificatePem?: string;
  outDir?: string;
  /** The --trust-policy file: must be the one the manifest names (same canonical digest). */
  trustPolicy?: TrustPolicyImage;
  env?: NodeJS.ProcessEnv;
  progress?: Progress;
}

export interface RebuildCheck {
  what: string;
  expected: string | null;
  actual: string | null;
  ok: boolean;
  /** Informational checks never fail the comparison. */
  informational?: boolean;
}

export interface RebuildReport {
  match: boolean;
  checks: RebuildCheck[];
  notes: string[];
  published: BuildManifest;
  rebuilt: BuildManifest;
}

/** Refuse before building when the given policy cannot reproduce the manifest's. */
function checkTrustPolicy(published: BuildManifest, given: TrustPolicyImage | undefined): void {
  const want = published.trustPolicy;
  if (want !== null && given === undefined) {
    buildFail('TRUST_POLICY_REQUIRED', `the manifest was built with the trust policy sha384 ${want.sha384}${want.development ? ' (DEVELOPMENT)' : ''}: pass that policy with --trust-policy FILE`);
  }
  if (want === null && given !== undefined) {
    buildFail('TRUST_POLICY_MISMATCH', `the manifest was built without a trust policy, but --trust-policy gives sha384 ${given.sha384}: rebuild without --trust-policy`);
  }
  if (want !== null && given !== undefined && want.sha384 !== given.sha384) {
    buildFail('TRUST_POLICY_MISMATCH', `--trust-policy is not the manifest's policy: its canonical sha384 is ${given.sha384}, the manifest names ${want.sha384}`);
  }
}

export async function rebuildAndCompare(opts: RebuildOptions): Promise<{ report: RebuildReport; image: BuiltImage }> {
  const published = parseBuildManifest(opts.manifestText);
  checkTrustPolicy(published, opts.trustPolicy);
  const development = published.blobSet.kind === 'development';
  if (!development && opts.blobsDir === undefined && findNitroCliBlobs(opts.env ?? process.env) === undefined) {
    // buildImage would fall back to the development set, which can never match.
    buildFail('BLOBS_INVALID', 'the manifest was built with nitro-cli blobs, which are not installed here: pass --blobs DIR (or set NITRO_CLI_BLOBS)');
  }
  const image = await buildImage({
    sourceRoot: opts.sourceRoot,
    ...(opts.cacheDir !== undefined ? { cacheDir: opts.cacheDir } : {}),
    ...(opts.blobsDir !== undefined ? { blobsDir: opts.blobsDir } : {}),
    ...(opts.outDir !== undefined ? { outDir: opts.outDir } : {}),
    ...(opts.progress !== undefined ? { progress: opts.progress } : {}),
    ...(opts.env !== undefined ? { env: opts.env } : {}),
    ...(opts.trustPolicy !== undefined ? { trustPolicy: opts.trustPolicy } : {}),
    developmentBlobs: development,
    sourceDateEpoch: published.sourceDateEpoch,
  });
  const rebuilt = image.manifest;
  const checks: RebuildCheck[] = [];
  const notes: string[] = [];

  const tpOf = (m: BuildManifest): string | null => (m.trustPolicy === null ? null : `sha384:${m.trustPolicy.sha384}${m.trustPolicy.development ? ' DEVELOPMENT' : ''}`);
  checks.push({ what: 'trust policy', expected: tpOf(published), actual: tpOf(rebuilt), ok: tpOf(published) === tpOf(rebuilt) });
  checks.push({ what: 'blob set kind', expected: published.blobSet.kind, actual: rebuilt.blobSet.kind, ok: published.blobSet.kind === rebuilt.blobSet.kind });
  const mine = new Map(rebuilt.inputs.map((i) => [i.name, i]));
  const theirs = new Map(published.inputs.map((i) => [i.name, i]));
  for (const name of [...new Set([...theirs.keys(), ...mine.keys()])].sort()) {
    const e = theirs.get(name);
    const a = mine.get(name);
    checks.push({
      what: `input ${name}`,
      expected: e === undefined ? null : `sha384:${e.sha384} (${e.size} bytes)`,
      actual: a === undefined ? null : `sha384:${a.sha384} (${a.size} bytes)`,
      ok: e !== undefined && a !== undefined && e.sha384 === a.sha384 && e.size === a.size,
    });
  }
  for (const pcr of ['0', '1', '2'] as const) {
    checks.push({ what: `PCR${pcr}`, expected: published.pcrs[pcr], actual: rebuilt.pcrs[pcr], ok: published.pcrs[pcr] === rebuilt.pcrs[pcr] });
  }
  const signed = published.pcrs['8'] !== undefined;
  if (signed) {
    if (opts.signingCertificatePem === undefined) {
      notes.push('PCR8 not recomputed: the build was signed; pass --sign-cert with its certificate to check PCR8');
    } else {
      const actual = Buffer.from(extendOnce([certificateDer(opts.signingCertificatePem)])).toString('hex');
      checks.push({ what: 'PCR8', expected: published.pcrs['8'] ?? null, actual, ok: actual === published.pcrs['8'] });
    }
    notes.push('EIF file digest not compared: a signed EIF carries a randomised ECDSA signature');
  } else {
    checks.push({ what: 'EIF sha384', expected: published.eif.sha384, actual: rebuilt.eif.sha384, ok: published.eif.sha384 === rebuilt.eif.sha384 });
  }
  checks.push({ what: 'source commit', expected: published.project.sourceCommit, actual: rebuilt.project.sourceCommit, ok: published.project.sourceCommit === rebuilt.project.sourceCommit, informational: true });
  if (rebuilt.project.sourceDirty) notes.push('the source checkout has uncommitted changes (or is not a git checkout)');
  return { report: { match: checks.every((c) => c.ok || c.informational === true), checks, notes, published, rebuilt }, image };
}

export function formatRebuildReport(r: RebuildReport): string {
  const lines: string[] = [];
  const bad = r.checks.filter((c) => !c.ok && c.informational !== true);
  lines.push(r.match ? `MATCH: rebuilt image reproduces the manifest (${r.checks.length} checks)` : `MISMATCH: ${bad.length} of ${r.checks.length} checks differ`);
  for (const c of r.checks) {
    const mark = c.ok ? 'ok  ' : c.informational === true ? 'info' : 'DIFF';
    lines.push(`  ${mark} ${c.what}${c.ok ? '' : `\n         published: ${c.expected ?? '(absent)'}\n         rebuilt:   ${c.actual ?? '(absent)'}`}`);
  }
  for (const n of r.notes) lines.push(`note: ${n}`);
  return `${lines.join('\n')}\n`;
}
