// Test support: a temporary PATH directory holding `nitro-cli` = testdata/fake-nitro-cli,
// which prints recorded real-format nitro-cli output (testdata/nitro-cli/*.json). Only tests
// import this module.
import { copyFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TESTDATA = fileURLToPath(new URL('./testdata/', import.meta.url));
const RECORDED = join(TESTDATA, 'nitro-cli');

export interface FakeNitroScenario {
  /** Recorded describe-eif output: 'v1' or 'v2' image. */
  eif?: 'v1' | 'v2';
  /** What describe-enclaves lists before anything is started (file name in testdata/nitro-cli, or 'none'). */
  before?: string;
  /** What describe-enclaves lists after run-enclave. */
  afterRun?: string;
  /** nitro-cli subcommands that fail, with the stderr text they print. */
  fail?: Record<string, string>;
}

export interface FakeNitroCli {
  /** Directory to put first on PATH. */
  binDir: string;
  dir: string;
  env: NodeJS.ProcessEnv;
  /** Argument lines nitro-cli was called with, in order. */
  calls(): string[];
  cleanup(): void;
}

export function recorded(name: string): string {
  return readFileSync(join(RECORDED, name), 'utf8');
}

export function fakeNitroCli(s: FakeNitroScenario = {}): FakeNitroCli {
  const dir = mkdtempSync(join(tmpdir(), 'ap-fake-nitro-'));
  const binDir = join(dir, 'bin');
  const bin = join(binDir, 'nitro-cli');
  mkdirSync(binDir);
  copyFileSync(join(TESTDATA, 'fake-nitro-cli'), bin);
  chmodSync(bin, 0o755);
  writeFileSync(join(dir, 'describe-eif.json'), recorded(`describe-eif-${s.eif ?? 'v1'}.json`));
  writeFileSync(join(dir, 'run-enclave.json'), recorded('run-enclave.json'));
  writeFileSync(join(dir, 'terminate-enclave.json'), recorded('terminate-enclave.json'));
  writeFileSync(join(dir, 'after-run.json'), recorded(s.afterRun ?? 'describe-enclaves-v1.json'));
  if (s.before !== undefined && s.before !== 'none') writeFileSync(join(dir, 'enclaves.json'), recorded(s.before));
  for (const [cmd, text] of Object.entries(s.fail ?? {})) writeFileSync(join(dir, `${cmd}.fail`), text);
  return {
    binDir,
    dir,
    env: { ...process.env, PATH: `${binDir}:/usr/bin:/bin`, FAKE_NITRO_CLI_DIR: dir },
    calls: () => (existsSync(join(dir, 'calls.log')) ? readFileSync(join(dir, 'calls.log'), 'utf8').split('\n').filter((l) => l !== '') : []),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
