// The `attested-pack` command: every subcommand of the registry (cli/commands/index.ts),
// run by the shared dispatcher (cli/dispatch.ts).
import { COMMANDS } from './commands/index.ts';
import { runProgram, type MainIo, type Program } from './dispatch.ts';
import { VERSION } from './version.ts';

export type { MainIo } from './dispatch.ts';

const ATTESTED_PACK: Program = {
  name: 'attested-pack',
  version: VERSION,
  title: 'attested-pack — pack SOPS secrets into Clef artifacts inside an AWS Nitro Enclave, with a verifiable receipt',
  commands: COMMANDS,
};

export function main(argv: string[], io: MainIo = {}): Promise<number> {
  return runProgram(ATTESTED_PACK, argv, io);
}
