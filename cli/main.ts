// Dispatcher for the one `attested-pack` command: finds the subcommand by its words,
// parses its declared options strictly, and maps failures to the documented exit codes.
import { parseArgs } from 'node:util';
import type { Writable } from 'node:stream';
import { COMMANDS, type CommandEntry } from './commands/index.ts';
import { EXIT_OK, EXIT_USAGE, UsageError, type CommandContext } from './command.ts';
import { isVerificationError } from '../verifier/errors.ts';

export interface MainIo {
  stdout?: Writable;
  stderr?: Writable;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

const VERSION = '0.1.0';

function topLevelHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.path.join(' ').length));
  const lines = COMMANDS.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`);
  return [
    'attested-pack — pack SOPS secrets into Clef artifacts inside an AWS Nitro Enclave, with a verifiable receipt',
    '',
    'Usage: attested-pack <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Every command takes --help. Exit codes: 0 ok, 1 verification failed or refused, 2 usage or input error.',
    '',
  ].join('\n');
}

function findCommand(argv: string[]): { entry: CommandEntry; rest: string[] } | undefined {
  let best: { entry: CommandEntry; rest: string[] } | undefined;
  for (const command of COMMANDS) {
    const n = command.path.length;
    if (argv.length >= n && command.path.every((w, i) => argv[i] === w)) {
      if (best === undefined || n > best.entry.path.length) best = { entry: command, rest: argv.slice(n) };
    }
  }
  return best;
}

function commandsUnder(prefix: string[]): CommandEntry[] {
  return COMMANDS.filter((c) => prefix.every((w, i) => c.path[i] === w) && c.path.length > prefix.length);
}

export async function main(argv: string[], io: MainIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    (argv.length === 0 ? stderr : stdout).write(topLevelHelp());
    return argv.length === 0 ? EXIT_USAGE : EXIT_OK;
  }
  if (argv[0] === '--version') {
    stdout.write(`${VERSION}\n`);
    return EXIT_OK;
  }
  const found = findCommand(argv);
  if (found === undefined) {
    // A group word alone ("verify") lists its subcommands.
    const group = commandsUnder(argv.filter((a) => !a.startsWith('-')).slice(0, 1));
    if (group.length > 0) {
      const wantsHelp = argv.includes('--help') || argv.includes('-h');
      (wantsHelp ? stdout : stderr).write(
        `Usage: attested-pack ${argv[0]} <${group.map((c) => c.path.slice(1).join(' ')).join('|')}> [options]\n\n` +
          group.map((c) => `  ${c.path.join(' ')}  ${c.summary}`).join('\n') +
          '\n',
      );
      return wantsHelp ? EXIT_OK : EXIT_USAGE;
    }
    stderr.write(`attested-pack: unknown command '${argv[0]}'. Run 'attested-pack --help' for the list.\n`);
    return EXIT_USAGE;
  }
  const { entry, rest } = found;
  // Only the chosen command's module (and what it imports) is loaded.
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    stdout.write(command.help.endsWith('\n') ? command.help : `${command.help}\n`);
    return EXIT_OK;
  }
  try {
    const parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
    const spec = command.positionals ?? { min: 0, max: 0, name: '' };
    if (parsed.positionals.length < spec.min) throw new UsageError(`missing ${spec.name}`);
    if (spec.max !== undefined && parsed.positionals.length > spec.max) {
      throw new UsageError(`unexpected argument '${parsed.positionals[spec.max] ?? ''}'`);
    }
    return await command.run({
      values: parsed.values as CommandContext['values'],
      positionals: parsed.positionals,
      stdout,
      stderr,
      cwd: io.cwd ?? process.cwd(),
      env: io.env ?? process.env,
    });
  } catch (e) {
    const name = `attested-pack ${command.path.join(' ')}`;
    if (e instanceof UsageError || (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
      stderr.write(`${name}: ${(e as Error).message}\nRun '${name} --help' for usage.\n`);
      return EXIT_USAGE;
    }
    if (isVerificationError(e)) {
      stderr.write(`${name}: ${e.code}: ${e.message}\n`);
      return EXIT_USAGE;
    }
    stderr.write(`${name}: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return EXIT_USAGE;
  }
}


