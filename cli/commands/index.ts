// The registry of subcommands: one import and one entry per command module.
import type { Command } from '../command.ts';
import { errorsCommand } from './errors.ts';
import { policyGenerateCommand, policyLintCommand } from './policy.ts';

export const COMMANDS: Command[] = [
  errorsCommand,
  policyGenerateCommand,
  policyLintCommand,
];
