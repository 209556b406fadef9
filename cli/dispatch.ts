// The dispatcher shared by the CLIs built from one command registry (`attested-pack`, and
// the auditors' `attested-pack-verify`): finds the subcommand by its words, loads only
// that command's module, parses its declared options strictly, and maps failures to the
// documented exit codes: 0 ok, 1 verification failed or refused, 2 usage or input error.
// With --json, every failure the dispatcher reports is one JSON object on stdout.
import { parseArgs } from 'node:util';
import type { Writable } from 'node:stream';
import { CommandError, EXIT_OK, EXIT_USAGE, UsageError, type Command, type CommandContext } from './command.ts';
import type { CommandEntry } from './commands/index.ts';
import { closest, didYouMean } from './suggest.ts';
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

/** Codes of the dispatcher's own failures (docs/errors.md, "CLI codes"). */
const USAGE_ERROR = 'USAGE_ERROR';
const INTERNAL_ERROR = 'INTERNAL_ERROR';

type Out = { stdout: Writable; stderr: Writable };

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
    `Every command takes --help ('${program.name} help <command>' too). Exit codes: 0 ok, 1 verification failed or refused, 2 usage or input error.`,
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

function commandsUnder(program: Program, prefix: string[]): CommandEntry[] {
  return program.commands.filter((c) => prefix.every((w, i) => c.path[i] === w) && c.path.length > prefix.length);
}

function groupUsage(program: Program, word: string, group: CommandEntry[]): string {
  return `Usage: ${program.name} ${word} <${group.map((c) => c.path.slice(1).join(' ')).join('|')}> [options]\n\n` +
    `${group.map((c) => `  ${c.path.join(' ')}  ${c.summary}`).join('\n')}\n`;
}

/** "unknown command 'verfy'. Did you mean 'verify'?" — whole paths and first words are candidates. */
function unknownCommand(program: Program, words: string[]): string {
  const typed = words.join(' ');
  const paths = program.commands.map((c) => c.path.join(' '));
  const firstWords = [...new Set(program.commands.map((c) => c.path[0] as string))];
  const hint = closest(typed, paths) ?? closest(words[0] ?? '', firstWords);
  return `unknown command '${typed}'.${hint === undefined ? '' : ` Did you mean '${hint}'?`} Run '${program.name} --help' for the list.`;
}

interface Failure {
  code: string;
  message: string;
  exit: number;
  /** Point to --help (usage errors). */
  usage: boolean;
}

function classify(e: unknown, command: Command): Failure {
  if (e instanceof UsageError) return { code: USAGE_ERROR, message: e.message, exit: EXIT_USAGE, usage: true };
  if (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS')) {
    let message = e.message;
    const unknown = /^Unknown option '(--?[^']+)'/.exec(message);
    if (unknown !== null) {
      const flags = Object.keys(command.options).map((o) => `--${o}`);
      // parseArgs's own text suggests '--' for positionals; our suggestion is the likely typo.
      message = `Unknown option '${unknown[1]}'.${didYouMean(unknown[1] as string, [...flags, '--help'])}`;
    }
    return { code: USAGE_ERROR, message, exit: EXIT_USAGE, usage: true };
  }
  if (e instanceof CommandError) return { code: e.code, message: e.message, exit: e.exit, usage: false };
  // A verification error that reaches the dispatcher is about an input file (e.g. a
  // malformed build manifest given to a command that is not itself a verification).
  if (isVerificationError(e)) return { code: e.code, message: e.message, exit: EXIT_USAGE, usage: false };
  return { code: INTERNAL_ERROR, message: e instanceof Error ? (e.stack ?? e.message) : String(e), exit: EXIT_USAGE, usage: false };
}

function report(out: Out, json: boolean, name: string, f: Failure): number {
  if (json) out.stdout.write(`${JSON.stringify({ ok: false, error: { code: f.code, message: f.message } })}\n`);
  const prefix = f.code === USAGE_ERROR ? '' : f.code === INTERNAL_ERROR ? 'internal error: ' : `${f.code}: `;
  out.stderr.write(`${name}: ${prefix}${f.message}\n${f.usage ? `Run '${name} --help' for usage.\n` : ''}`);
  return f.exit;
}

/** Everything before a literal "--" terminator: where a --json flag can be. */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

function helpOf(program: Program, command: Command): string {
  const help = program.helpText?.(command) ?? command.help;
  return help.endsWith('\n') ? help : `${help}\n`;
}

/** `<program> help [command words]`. */
async function help(program: Program, words: string[], out: Out, json: boolean): Promise<number> {
  if (words.length === 0) {
    out.stdout.write(topLevelHelp(program));
    return EXIT_OK;
  }
  const found = findCommand(program, words);
  if (found !== undefined && found.rest.length === 0) {
    out.stdout.write(helpOf(program, await found.entry.load()));
    return EXIT_OK;
  }
  const group = commandsUnder(program, words);
  if (group.length > 0) {
    out.stdout.write(groupUsage(program, words.join(' '), group));
    return EXIT_OK;
  }
  return report(out, json, `${program.name} help`, { code: USAGE_ERROR, message: unknownCommand(program, words), exit: EXIT_USAGE, usage: false });
}

/** No command matched: a group word alone lists its subcommands, anything else is unknown. */
function notFound(program: Program, argv: string[], out: Out, json: boolean): number {
  const words = argv.filter((a) => !a.startsWith('-'));
  const group = commandsUnder(program, words.slice(0, 1));
  const wantsHelp = argv.includes('--help') || argv.includes('-h');
  if (group.length > 0 && (words.length === 1 || wantsHelp)) {
    (wantsHelp ? out.stdout : out.stderr).write(groupUsage(program, argv[0] as string, group));
    if (wantsHelp) return EXIT_OK;
    if (json) out.stdout.write(`${JSON.stringify({ ok: false, error: { code: USAGE_ERROR, message: `'${argv[0]}' needs a subcommand` } })}\n`);
    return EXIT_USAGE;
  }
  return report(out, json, program.name, { code: USAGE_ERROR, message: unknownCommand(program, words.slice(0, 2)), exit: EXIT_USAGE, usage: false });
}

async function runCommand(name: string, command: Command, rest: string[], io: MainIo, out: Out, json: boolean): Promise<number> {
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
      stdout: out.stdout,
      stderr: out.stderr,
      cwd: io.cwd ?? process.cwd(),
      env: io.env ?? process.env,
    });
  } catch (e) {
    return report(out, json, name, classify(e, command));
  }
}

export async function runProgram(program: Program, argv: string[], io: MainIo = {}): Promise<number> {
  const out: Out = { stdout: io.stdout ?? process.stdout, stderr: io.stderr ?? process.stderr };
  const json = wantsJson(argv);
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') {
    (argv.length === 0 ? out.stderr : out.stdout).write(topLevelHelp(program));
    return argv.length === 0 ? EXIT_USAGE : EXIT_OK;
  }
  if (argv[0] === 'help') return help(program, argv.slice(1).filter((a) => a !== '--json'), out, json);
  if (argv[0] === '--version') {
    out.stdout.write(`${program.version}\n`);
    return EXIT_OK;
  }
  const found = findCommand(program, argv);
  if (found === undefined) return notFound(program, argv, out, json);
  // Only the chosen command's module (and what it imports) is loaded.
  const command = await found.entry.load();
  if (found.rest.includes('--help') || found.rest.includes('-h')) {
    out.stdout.write(helpOf(program, command));
    return EXIT_OK;
  }
  return runCommand(`${program.name} ${found.entry.path.join(' ')}`, command, found.rest, io, out, json);
}
