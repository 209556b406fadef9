// `attested-pack-verify`: the auditor's command in @attested-pack/verifier — the same
// `verify receipt`, `verify attestation` and `errors` commands as `attested-pack`, under
// shorter words (`attested-pack-verify receipt …`). It reaches only the verifier, the
// dispatcher and these three command modules, all Node standard library underneath
// (scripts/pack-verifier.mjs refuses to pack anything else).
import { runProgram, type MainIo, type Program } from './dispatch.ts';
import type { CommandEntry } from './commands/index.ts';
import { VERSION } from './version.ts';

const COMMANDS: readonly CommandEntry[] = [
  { path: ['receipt'], summary: 'verify a pack receipt (attestation, bindings, DSSE, statement, artifact) against a build manifest', load: async () => (await import('./commands/verify-receipt.ts')).verifyReceiptCommand },
  { path: ['attestation'], summary: 'verify AWS Nitro attestation documents (signature, chain, time, PCRs)', load: async () => (await import('./commands/verify-attestation.ts')).verifyAttestationCommand },
  { path: ['errors'], summary: 'list the stable verification error codes', load: async () => (await import('./commands/errors.ts')).errorsCommand },
];

const VERIFIER: Program = {
  name: 'attested-pack-verify',
  version: VERSION,
  title: 'attested-pack-verify — check attested-pack receipts and AWS Nitro attestation documents offline',
  commands: COMMANDS,
  // The commands' help is written for `attested-pack verify …`; show this program's words.
  helpText: (command) => command.help.replaceAll('attested-pack verify ', 'attested-pack-verify ').replaceAll('attested-pack errors', 'attested-pack-verify errors'),
};

export function verifyMain(argv: string[], io: MainIo = {}): Promise<number> {
  return runProgram(VERIFIER, argv, io);
}
