// Child processes for the demo: every service runs as its own `attested-pack` process, as
// it would in a deployment, and every one of them is stopped when the demo ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI_PATH = fileURLToPath(new URL('../../bin/attested-pack', import.meta.url));

export interface ServiceHandle {
  name: string;
  child: ChildProcess;
  /** The first JSON line the service printed on stdout (its startup summary). */
  info: Record<string, unknown>;
  stderrTail(): string;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class DemoProcesses {
  readonly #children: ChildProcess[] = [];
  readonly #env: NodeJS.ProcessEnv;

  constructor(env: NodeJS.ProcessEnv) {
    this.#env = env;
  }

  /** Start a long-running `attested-pack <args> --json` and wait for its startup line. */
  async start(name: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ServiceHandle> {
    const child = spawn(process.execPath, [CLI_PATH, ...args, '--json'], { env: { ...this.#env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#children.push(child);
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString()).slice(-8192);
    });
    const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`${name} did not start within ${opts.timeoutMs ?? 30_000} ms\n${stderr}`)), opts.timeoutMs ?? 30_000);
      child.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
        const nl = out.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(timer);
          try {
            resolve(JSON.parse(out.slice(0, nl)) as Record<string, unknown>);
          } catch {
            reject(new Error(`${name} printed something other than its JSON startup line: ${out.slice(0, nl)}`));
          }
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with code ${String(code)} before it was ready\n${stderr}`));
      });
    });
    return { name, child, info, stderrTail: () => stderr };
  }

  /** Run `attested-pack <args>` to completion, streaming its stderr lines through `onProgress`. */
  run(args: string[], opts: { env?: NodeJS.ProcessEnv; onProgress?: (line: string) => void; cwd?: string } = {}): Promise<RunResult> {
    return this.runProgram(process.execPath, [CLI_PATH, ...args], opts);
  }

  runProgram(program: string, args: string[], opts: { env?: NodeJS.ProcessEnv; onProgress?: (line: string) => void; cwd?: string } = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(program, args, { env: { ...this.#env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }) });
      this.#children.push(child);
      let stdout = '';
      let stderr = '';
      let partial = '';
      child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr?.on('data', (c: Buffer) => {
        const text = c.toString();
        stderr += text;
        if (opts.onProgress !== undefined) {
          partial += text;
          const lines = partial.split('\n');
          partial = lines.pop() ?? '';
          for (const l of lines) if (l.trim() !== '') opts.onProgress(l);
        }
      });
      child.once('error', reject);
      child.once('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
  }

  /** Stop every process the demo started (SIGTERM, then SIGKILL after a grace period). */
  async stopAll(): Promise<void> {
    await Promise.all(
      this.#children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const kill = setTimeout(() => c.kill('SIGKILL'), 3000);
            c.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            c.kill('SIGTERM');
          }),
      ),
    );
  }
}
