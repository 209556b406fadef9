// The contract every subcommand implements. A command declares its options as data
// (node:util parseArgs config); the dispatcher in main.ts parses, handles --help and
// maps errors to exit codes, so commands only do their job.
import type { ParseArgsConfig } from 'node:util';
import type { Writable } from 'node:stream';

export const EXIT_OK = 0;
/** Verification failed or the request was refused. */
export const EXIT_REFUSED = 1;
/** Usage error or unreadable/malformed input. */
export const EXIT_USAGE = 2;

export type OptionValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

export interface CommandContext {
  values: OptionValues;
  positionals: string[];
  stdout: Writable;
  stderr: Writable;
  /** Directory relative paths are resolved against. */
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export interface Command {
  /** Words that select the command, e.g. ['verify', 'attestation']. */
  path: string[];
  summary: string;
  /** Full help text shown by --help (usage line, options, examples). */
  help: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Minimum/maximum positional arguments; undefined max = unbounded. */
  positionals?: { min: number; max?: number; name: string };
  run(ctx: CommandContext): Promise<number>;
}

/** Thrown for bad flags or unreadable input: exit code 2 with the message. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * A coded failure a command reports through the dispatcher, which prints it as text or,
 * with --json, as one JSON object, and exits with `exit` (1 refused, 2 input error).
 */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  readonly code: string;
  readonly exit: typeof EXIT_REFUSED | typeof EXIT_USAGE;

  constructor(code: string, message: string, exit: typeof EXIT_REFUSED | typeof EXIT_USAGE) {
    super(message);
    this.code = code;
    this.exit = exit;
  }
}

export function stringOption(values: OptionValues, name: string): string | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new UsageError(`--${name} takes a value`);
  return v;
}

export function stringListOption(values: OptionValues, name: string): string[] {
  const v = values[name];
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new UsageError(`--${name} takes a value`);
  return v as string[];
}

export function requireOption(values: OptionValues, name: string): string {
  const v = stringOption(values, name);
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

export function writeJsonLine(out: Writable, value: unknown): void {
  out.write(`${JSON.stringify(value)}\n`);
}

/**
 * Resolves on the first SIGINT or SIGTERM. Call it before printing a service's startup
 * line: whoever reads that line may signal at once, and a signal arriving before any
 * handler is installed would kill the process without a clean shutdown.
 */
export function shutdownSignal(): Promise<void> {
  return new Promise<void>((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
