// The Action's inputs as GitHub passes them (INPUT_<NAME> environment variables; action.yml
// maps each input explicitly, since composite actions do not) and its outputs
// ($GITHUB_OUTPUT, `name=value` lines).
import { appendFileSync } from 'node:fs';

export interface ActionInputs {
  host: string;
  identity: string;
  environment: string;
  manifest: string;
  outDir: string;
  audience: string;
  /** Git repository to pack from (default: the workspace). */
  repo: string;
  /** Trust root PEM instead of the AWS Nitro root G1 (simulated demos only). */
  root: string | undefined;
}

export class ActionInputError extends Error {
  override readonly name = 'ActionInputError';
}

function input(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[`INPUT_${name.toUpperCase().replaceAll('-', '_')}`]?.trim();
  if (v === undefined || v === '') return undefined;
  if (/[\r\n\0]/.test(v)) throw new ActionInputError(`input '${name}' must be one line`);
  return v;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const v = input(env, name);
  if (v === undefined) throw new ActionInputError(`input '${name}' is required`);
  return v;
}

export function readInputs(env: NodeJS.ProcessEnv): ActionInputs {
  return {
    host: required(env, 'host'),
    identity: required(env, 'identity'),
    environment: required(env, 'environment'),
    manifest: required(env, 'manifest'),
    outDir: input(env, 'out-dir') ?? 'attested-pack-out',
    audience: input(env, 'audience') ?? 'attested-pack',
    repo: input(env, 'repo') ?? '.',
    root: input(env, 'root'),
  };
}

/** Appends `name=value` to $GITHUB_OUTPUT; values are paths, so one line each. */
export function writeOutputs(env: NodeJS.ProcessEnv, outputs: Record<string, string>): void {
  const file = env.GITHUB_OUTPUT;
  if (file === undefined || file === '') throw new ActionInputError('GITHUB_OUTPUT is not set: run as a GitHub Action step');
  for (const [name, value] of Object.entries(outputs)) {
    if (/[\r\n]/.test(value)) throw new ActionInputError(`output '${name}' would span lines`);
  }
  appendFileSync(file, Object.entries(outputs).map(([n, v]) => `${n}=${v}\n`).join(''));
}
