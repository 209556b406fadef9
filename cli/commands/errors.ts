import { VERIFY_ERROR_CODES } from '../../verifier/errors.ts';
import { EXIT_OK, type Command } from '../command.ts';

export const errorsCommand: Command = {
  path: ['errors'],
  summary: 'list the stable verification error codes',
  help: `Usage: attested-pack errors [--json]

Lists every error code the verifier can report, with its meaning. The codes are stable:
scripts and CI may match on them.

Options:
  --json   one JSON object {code, meaning} per line
`,
  options: { json: { type: 'boolean' } },
  async run({ values, stdout }) {
    const entries = Object.entries(VERIFY_ERROR_CODES);
    if (values.json === true) {
      for (const [code, meaning] of entries) stdout.write(`${JSON.stringify({ code, meaning })}\n`);
    } else {
      const width = Math.max(...entries.map(([c]) => c.length));
      for (const [code, meaning] of entries) stdout.write(`${code.padEnd(width)}  ${meaning}\n`);
    }
    return EXIT_OK;
  },
};
