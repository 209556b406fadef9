import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { EXIT_OK, EXIT_REFUSED, UsageError, requireOption, stringOption, writeJsonLine, type Command } from '../command.ts';
import { formatRebuildReport, rebuildAndCompare } from '../../reproducible/rebuild.ts';
import { defaultSourceRoot, progressTo, readTrustPolicyOption, reportBuildError, withInterruptCleanup } from './build.ts';
import { rebuildInstalledPackage } from './rebuild-package.ts';

export const rebuildCommand: Command = {
  path: ['rebuild'],
  summary: 'rebuild the image from source and compare every input digest and PCR with a manifest',
  help: `Usage: attested-pack rebuild --manifest build-manifest.json [--trust-policy FILE] [--source DIR] [--json]

Rebuilds the image from source with the manifest's SOURCE_DATE_EPOCH and blob-set kind,
then compares every input digest (Node runtime, Debian packages, blobs, bundles, ramdisks),
PCR0/1/2, and the EIF digest (unsigned builds). A signed build's PCR8 is checked when its
certificate is given with --sign-cert. A manifest that names a trust policy needs the same
policy file (--trust-policy; compared by its canonical SHA-384 before anything is built).

Options:
  --manifest FILE    the published build manifest (required)
  --trust-policy FILE  the trust policy the image was built with (YAML or JSON)
  --source DIR       checkout to rebuild (default: the one this CLI runs from)
  --blobs DIR        nitro-cli blobs directory (manifests built with nitro-cli blobs)
  --sign-cert PEM    certificate of a signed build, to recompute PCR8
  --out DIR          also write the rebuilt EIF and manifest there
  --cache DIR        download cache (default: <source>/.cache/attested-pack)
  --json             the report as one JSON object on stdout

Exit codes: 0 everything matches, 1 something differs (the report says what) or the trust
policy file is not the manifest's, 2 usage or build error (also: the policy file is missing).
`,
  options: {
    manifest: { type: 'string' },
    source: { type: 'string' },
    blobs: { type: 'string' },
    'sign-cert': { type: 'string' },
    out: { type: 'string' },
    cache: { type: 'string' },
    'trust-policy': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run({ values, stdout, stderr, cwd, env }) {
    const manifestPath = resolve(cwd, requireOption(values, 'manifest'));
    const read = (path: string): string => {
      try {
        return readFileSync(path, 'utf8');
      } catch (e) {
        throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
      }
    };
    const manifestText = read(manifestPath);
    const source = stringOption(values, 'source');
    const blobs = stringOption(values, 'blobs');
    const cert = stringOption(values, 'sign-cert');
    const out = stringOption(values, 'out');
    const cache = stringOption(values, 'cache');
    // From an installed package: rebuild a staged copy with the shipped dependency lock.
    const staged = await rebuildInstalledPackage({ values, source, manifestPath, cwd, env, stdout, stderr });
    if (staged !== undefined) return staged;
    const sourceRoot = source === undefined ? defaultSourceRoot() : resolve(cwd, source);
    const kept = (): string[] => [`the download cache ${cache === undefined ? resolve(sourceRoot, '.cache/attested-pack') : resolve(cwd, cache)}`];
    try {
      const trustPolicy = readTrustPolicyOption(cwd, stringOption(values, 'trust-policy'));
      const { report } = await withInterruptCleanup(stderr, kept, () => rebuildAndCompare({
        manifestText,
        sourceRoot,
        ...(trustPolicy !== undefined ? { trustPolicy } : {}),
        ...(blobs !== undefined ? { blobsDir: resolve(cwd, blobs) } : {}),
        ...(cert !== undefined ? { signingCertificatePem: read(resolve(cwd, cert)) } : {}),
        ...(out !== undefined ? { outDir: resolve(cwd, out) } : {}),
        ...(cache !== undefined ? { cacheDir: resolve(cwd, cache) } : {}),
        env,
        progress: progressTo(stderr),
      }));
      if (values.json === true) writeJsonLine(stdout, { match: report.match, checks: report.checks, notes: report.notes, pcrs: report.rebuilt.pcrs });
      else stdout.write(formatRebuildReport(report));
      return report.match ? EXIT_OK : EXIT_REFUSED;
    } catch (e) {
      return reportBuildError(e, 'rebuild', stderr);
    }
  },
};
