// Dispatcher for the one `attested-pack` command: finds the subcommand by its words,
// parses its declared options strictly, and maps failures to the documented exit codes:
// 0 ok, 1 verification failed or refused, 2 usage or input error. With --json, every
// failure the dispatcher reports is one JSON object on stdout ({ok: false, error}).
import { parseArgs } from 'node:util';
import type { Writable } from 'node:stream';
import { COMMANDS } from './commands/index.ts';
import { CommandError, EXIT_OK, EXIT_USAGE, UsageError, type Command, type CommandContext } from './command.ts';
import { closest, didYouMean } from './suggest.ts';
import { isVerificationError } from '../verifier/errors.ts';

export interface MainIo {
  stdout?: Writable;
  stderr?: Writable;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

const VERSION = '0.1.0';
/** Codes of the dispatcher's own failures (docs/errors.md, "CLI codes"). */
const USAGE_ERROR = 'USAGE_ERROR';
const INTERNAL_ERROR = 'INTERNAL_ERROR';

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
    "Every command takes --help ('attested-pack help <command>' too). Exit codes: 0 ok, 1 verification failed or refused, 2 usage or input error.",
    '',
  ].join('\n');
}

function findCommand(argv: string[]): { command: Command; rest: string[] } | undefined {
  let best: { command: Command; rest: string[] } | undefined;
  for (const command of COMMANDS) {
    const n = command.path.length;
    if (argv.length >= n && command.path.every((w, i) => argv[i] === w)) {
      if (best === undefined || n > best.command.path.length) best = { command, rest: argv.slice(n) };
    }
  }
  return best;
}

function commandsUnder(prefix: string[]): Command[] {
  return COMMANDS.filter((c) => prefix.every((w, i) => c.path[i] === w) && c.path.length > prefix.length);
}

function groupUsage(word: string, group: Command[]): string {
  return `Usage: attested-pack ${word} <${group.map((c) => c.path.slice(1).join(' ')).join('|')}> [options]\n\n` +
    `${group.map((c) => `  ${c.path.join(' ')}  ${c.summary}`).join('\n')}\n`;
}

/** "unknown command 'verfy'. Did you mean 'verify'?" — whole paths and first words are candidates. */
function unknownCommand(words: string[]): string {
  const typed = words.join(' ');
  const paths = COMMANDS.map((c) => c.path.join(' '));
  const firstWords = [...new Set(COMMANDS.map((c) => c.path[0] as string))];
  const hint = closest(typed, paths) ?? closest(words[0] ?? '', firstWords);
  return `unknown command '${typed}'.${hint === undefined ? '' : ` Did you mean '${hint}'?`} Run 'attested-pack --help' for the list.`;
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

function report(io: { stdout: Writable; stderr: Writable }, json: boolean, name: string, f: Failure): number {
  if (json) io.stdout.write(`${JSON.stringify({ ok: false, error: { code: f.code, message: f.message } })}\n`);
  const prefix = f.code === USAGE_ERROR ? '' : f.code === INTERNAL_ERROR ? 'internal error: ' : `${f.code}: `;
  io.stderr.write(`${name}: ${prefix}${f.message}\n${f.usage ? `Run '${name} --help' for usage.\n` : ''}`);
  return f.exit;
}

/** Everything before a literal "--" terminator: where a --json flag can be. */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/** `attested-pack help [command words]`. */
function help(words: string[], io: { stdout: Writable; stderr: Writable }, json: boolean): number {
  if (words.length === 0) {
    io.stdout.write(topLevelHelp());
    return EXIT_OK;
  }
  const found = findCommand(words);
  if (found !== undefined && found.rest.length === 0) {
    io.stdout.write(found.command.help.endsWith('\n') ? found.command.help : `${found.command.help}\n`);
    return EXIT_OK;
  }
  const group = commandsUnder(words);
  if (group.length > 0) {
    io.stdout.write(groupUsage(words.join(' '), group));
    return EXIT_OK;
  }
  return report(io, json, 'attested-pack help', { code: USAGE_ERROR, message: unknownCommand(words), exit: EXIT_USAGE, usage: false });
}

export async function main(argv: string[], io: MainIo = {}): Promise<number> {
  const out = { stdout: io.stdout ?? process.stdout, stderr: io.stderr ?? process.stderr };
  const json = wantsJson(argv);
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') {
    (argv.length === 0 ? out.stderr : out.stdout).write(topLevelHelp());
    return argv.length === 0 ? EXIT_USAGE : EXIT_OK;
  }
  if (argv[0] === 'help') return help(argv.slice(1).filter((a) => a !== '--json'), out, json);
  if (argv[0] === '--version') {
    out.stdout.write(`${VERSION}\n`);
    return EXIT_OK;
  }
  const found = findCommand(argv);
  if (found === undefined) {
    const words = argv.filter((a) => !a.startsWith('-'));
    // A group word alone ("verify") lists its subcommands.
    const group = commandsUnder(words.slice(0, 1));
    const wantsHelp = argv.includes('--help') || argv.includes('-h');
    if (group.length > 0 && (words.length === 1 || wantsHelp)) {
      (wantsHelp ? out.stdout : out.stderr).write(groupUsage(argv[0] as string, group));
      if (wantsHelp) return EXIT_OK;
      if (json) out.stdout.write(`${JSON.stringify({ ok: false, error: { code: USAGE_ERROR, message: `'${argv[0]}' needs a subcommand` } })}\n`);
      return EXIT_USAGE;
    }
    return report(out, json, 'attested-pack', { code: USAGE_ERROR, message: unknownCommand(words.slice(0, 2)), exit: EXIT_USAGE, usage: false });
  }
  return runCommand(found.command, found.rest, io, out, json);
}

async function runCommand(command: Command, rest: string[], io: MainIo, out: { stdout: Writable; stderr: Writable }, json: boolean): Promise<number> {
  if (rest.includes('--help') || rest.includes('-h')) {
    out.stdout.write(command.help.endsWith('\n') ? command.help : `${command.help}\n`);
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
      stdout: out.stdout,
      stderr: out.stderr,
      cwd: io.cwd ?? process.cwd(),
      env: io.env ?? process.env,
    });
  } catch (e) {
    return report(out, json, `attested-pack ${command.path.join(' ')}`, classify(e, command));
  }
}

