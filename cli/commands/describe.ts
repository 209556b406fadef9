import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { EXIT_OK, EXIT_REFUSED, UsageError, writeJsonLine, type Command } from '../command.ts';
import { describeEif, describeProblems, formatDescription } from '../../build/describe.ts';
import { reportBuildError } from './build.ts';

export const describeCommand: Command = {
  path: ['describe'],
  summary: 'show an EIF\'s PCRs, sections, metadata and signing certificate',
  help: `Usage: attested-pack describe EIF [--json]

Like nitro-cli describe-eif: EIF version, PCR0/1/2 (and PCR8 when signed), CRC check,
signature check and signing certificate (with its dates checked against the clock: nitro-cli
refuses an expired or not-yet-valid one), metadata, plus the section table with sizes and
SHA-384 digests. Works on any EIF, not only ours. For attested-pack images it also shows the
trust policy in the image (/app/trust-policy.json): its SHA-384, DEVELOPMENT when it is a
development policy, or that there is none (the enclave then refuses every pack).

Options:
  --json   one JSON object on stdout

Exit codes: 0 ok, 1 the CRC, the signature or the certificate dates do not check
(EIF_SIGNING_CERT_EXPIRED, EIF_SIGNING_CERT_NOT_YET_VALID) or the trust policy file is
invalid, 2 unreadable or malformed file.
`,
  options: { json: { type: 'boolean' } },
  positionals: { min: 1, max: 1, name: 'EIF' },
  async run({ values, positionals, stdout, stderr, cwd }) {
    const path = resolve(cwd, positionals[0] as string);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
    }
    try {
      const d = describeEif(bytes);
      if (values.json === true) writeJsonLine(stdout, d);
      else stdout.write(formatDescription(d));
      const problems = describeProblems(d);
      for (const p of problems) stderr.write(`attested-pack describe: ${p}\n`);
      return problems.length === 0 ? EXIT_OK : EXIT_REFUSED;
    } catch (e) {
      return reportBuildError(e, 'describe', stderr);
    }
  },
};
