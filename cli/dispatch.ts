// The dispatcher shared by the CLIs built from one command registry (`attested-pack`, and
// the auditors' `attested-pack-verify`): finds the subcommand by its words, loads only
// that command's module, parses its declared options strictly, and maps failures to the
// documented exit codes.
import { parseArgs } from 'node:util';
import type { Writable } from 'node:stream';
import { EXIT_OK, EXIT_USAGE, UsageError, type Command, type CommandContext } from './command.ts';
import type { CommandEntry } from './commands/index.ts';
import { isVerificationError } from '../verifier/errors.ts';

export interface MainIo {
  stdout?: Writable;
  stderr?: Writable;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface Program {
  /** The executable's name, as users type it. */
  name: string;
  version: string;
  /** First line of the top-level help. */
  title: string;
  commands: readonly CommandEntry[];
  /** A command's --help as this program shows it (commands are written for attested-pack). */
  helpText?(command: Command): string;
}

function topLevelHelp(program: Program): string {
  const width = Math.max(...program.commands.map((c) => c.path.join(' ').length));
  const lines = program.commands.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`);
  return [
    program.title,
    '',
    `Usage: ${program.name} <command> [options]`,
    '',
    'Commands:',
    ...lines,
    '',
    'Every command takes --help. Exit codes: 0 ok, 1 verification failed or refused, 2 usage or input error.',
    '',
  ].join('\n');
}

function findCommand(program: Program, argv: string[]): { entry: CommandEntry; rest: string[] } | undefined {
  let best: { entry: CommandEntry; rest: string[] } | undefined;
  for (const entry of program.commands) {
    const n = entry.path.length;
    if (argv.length >= n && entry.path.every((w, i) => argv[i] === w)) {
      if (best === undefined || n > best.entry.path.length) best = { entry, rest: argv.slice(n) };
    }
  }
  return best;
}

/** A group word alone ("verify") lists its subcommands; undefined when it is no group. */
function groupUsage(program: Program, argv: string[], stdout: Writable, stderr: Writable): number | undefined {
  const prefix = argv.filter((a) => !a.startsWith('-')).slice(0, 1);
  const group = program.commands.filter((c) => prefix.every((w, i) => c.path[i] === w) && c.path.length > prefix.length);
  if (group.length === 0) return undefined;
  const wantsHelp = argv.includes('--help') || argv.includes('-h');
  (wantsHelp ? stdout : stderr).write(
    `Usage: ${program.name} ${argv[0]} <${group.map((c) => c.path.slice(1).join(' ')).join('|')}> [options]\n\n` +
      group.map((c) => `  ${c.path.join(' ')}  ${c.summary}`).join('\n') +
      '\n',
  );
  return wantsHelp ? EXIT_OK : EXIT_USAGE;
}

async function runCommand(name: string, command: Command, rest: string[], io: Required<Pick<MainIo, 'stdout' | 'stderr'>> & MainIo): Promise<number> {
  const { stdout, stderr } = io;
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

export async function runProgram(program: Program, argv: string[], io: MainIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    (argv.length === 0 ? stderr : stdout).write(topLevelHelp(program));
    return argv.length === 0 ? EXIT_USAGE : EXIT_OK;
  }
  if (argv[0] === '--version') {
    stdout.write(`${program.version}\n`);
    return EXIT_OK;
  }
  const found = findCommand(program, argv);
  if (found === undefined) {
    const group = groupUsage(program, argv, stdout, stderr);
    if (group !== undefined) return group;
    stderr.write(`${program.name}: unknown command '${argv[0]}'. Run '${program.name} --help' for the list.\n`);
    return EXIT_USAGE;
  }
  const { entry, rest } = found;
  // Only the chosen command's module (and what it imports) is loaded.
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    const help = program.helpText?.(command) ?? command.help;
    stdout.write(help.endsWith('\n') ? help : `${help}\n`);
    return EXIT_OK;
  }
  return runCommand(`${program.name} ${entry.path.join(' ')}`, command, rest, { ...io, stdout, stderr });
}
