import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { EXIT_OK, EXIT_REFUSED, UsageError, writeJsonLine, type Command } from '../command.ts';
import { diffEifs, formatPcrDiff } from '../../build/pcr-diff.ts';
import { reportBuildError } from './build.ts';

export const pcrDiffCommand: Command = {
  path: ['pcr-diff'],
  summary: 'explain which PCRs two EIFs differ in, and why (section, ramdisk files)',
  help: `Usage: attested-pack pcr-diff A.eif B.eif [--json]

Compares two EIFs: which of PCR0/1/2/8 differ, which measured section caused it (kernel,
cmdline, bootstrap or application ramdisk, signing certificate) and, for ramdisks, which
files differ (path, type, size, mode, SHA-384, mtime, owner). Unmeasured differences
(metadata, signature bytes) are listed as notes.

Options:
  --json   one JSON object on stdout

Exit codes: 0 all PCRs equal, 1 some PCR differs, 2 unreadable or malformed file.
`,
  options: { json: { type: 'boolean' } },
  positionals: { min: 2, max: 2, name: 'A.eif B.eif' },
  async run({ values, positionals, stdout, stderr, cwd }) {
    const [a, b] = positionals.map((p) => {
      const path = resolve(cwd, p);
      try {
        return readFileSync(path);
      } catch (e) {
        throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
      }
    }) as [Buffer, Buffer];
    try {
      const d = diffEifs(a, b);
      if (values.json === true) writeJsonLine(stdout, d);
      else stdout.write(formatPcrDiff(d));
      return d.identical ? EXIT_OK : EXIT_REFUSED;
    } catch (e) {
      return reportBuildError(e, 'pcr-diff', stderr);
    }
  },
};
