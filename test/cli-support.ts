// Running the CLI in-process with captured output, for tests (spawning bin/attested-pack
// costs a second or more of TypeScript loading per call).
import { PassThrough } from 'node:stream';
import { main } from '../cli/main.ts';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

export async function runCli(argv: string[], io: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await main(argv, { stdout, stderr, ...(io.cwd === undefined ? {} : { cwd: io.cwd }), ...(io.env === undefined ? {} : { env: io.env }) });
  return { code, out, err };
}
