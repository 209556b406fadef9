// Entry point of the attested-pack GitHub Action (action.yml): runs `attested-pack pack
// --github-oidc` (the pack client gets the job's OIDC token itself, for the request-bound
// audience under the `audience` prefix), then verifies the receipt once more, on its own,
// with `verify receipt` (artifact, manifest PCRs, nonce-free), and only then publishes
// the artifact and receipt paths as step outputs. Any failure fails the step with a
// `::error::` annotation; exit codes are the CLI's (1 refused, 2 usage or input).
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../main.ts';
import { ActionInputError, readInputs, writeOutputs, type ActionInputs } from './inputs.ts';

interface Captured { code: number; out: string }

async function runCli(argv: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Captured> {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = await main(argv, { stdout, stderr: process.stderr, cwd, env });
  return { code, out };
}

function annotate(message: string): void {
  // Workflow commands are line-based: keep the message on one line.
  process.stdout.write(`::error title=attested-pack::${message.replace(/\r?\n/g, ' ')}\n`);
}

function packArgv(i: ActionInputs, cwd: string): string[] {
  return [
    'pack', '--host', i.host, '--identity', i.identity, '--env', i.environment,
    '--manifest', resolve(cwd, i.manifest), '--repo', resolve(cwd, i.repo), '--out', resolve(cwd, i.outDir),
    '--github-oidc', '--audience', i.audience, '--json',
    ...(i.root === undefined ? [] : ['--root', resolve(cwd, i.root)]),
  ];
}

export async function runAction(env: NodeJS.ProcessEnv = process.env, cwd = env.GITHUB_WORKSPACE ?? process.cwd()): Promise<number> {
  let inputs: ActionInputs;
  try {
    inputs = readInputs(env);
  } catch (e) {
    if (!(e instanceof ActionInputError)) throw e;
    annotate(e.message);
    return 2;
  }
  const pack = await runCli(packArgv(inputs, cwd), cwd, env);
  if (pack.code !== 0) {
    annotate(`pack failed (exit ${pack.code}): ${pack.out.trim() || 'see the log above'}`);
    return pack.code;
  }
  const outDir = resolve(cwd, inputs.outDir);
  const artifact = join(outDir, 'artifact.json');
  const receipt = join(outDir, 'receipt.json');
  const verify = await runCli([
    'verify', 'receipt', receipt, '--artifact', artifact, '--manifest', resolve(cwd, inputs.manifest),
    ...(inputs.root === undefined ? [] : ['--root', resolve(cwd, inputs.root)]),
  ], cwd, env);
  process.stdout.write(verify.out);
  if (verify.code !== 0) {
    annotate(`the receipt does not verify (exit ${verify.code})`);
    return verify.code === 2 ? 2 : 1;
  }
  try {
    writeOutputs(env, { artifact, receipt });
  } catch (e) {
    if (!(e instanceof ActionInputError)) throw e;
    annotate(e.message);
    return 2;
  }
  return 0;
}
