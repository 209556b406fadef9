import { describe, expect, it } from 'vitest';
import { VERIFY_ERROR_CODES } from '../verifier/errors.ts';
import { runCli, type CliRun } from '../test/cli-support.ts';

const run = (argv: string[]): Promise<CliRun> => runCli(argv);

describe('attested-pack dispatcher', () => {
  it('prints the command list for --help and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage: attested-pack <command>');
    expect(r.out).toContain('errors');
  });

  it('exits 2 with usage on no arguments', async () => {
    const r = await run([]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('Usage:');
  });

  it('exits 2 on an unknown command and names it', async () => {
    const r = await run(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown command 'frobnicate'");
  });

  it('exits 2 on an unknown option and points to --help', async () => {
    const r = await run(['errors', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("Unknown option '--bogus'");
    expect(r.err).toContain('attested-pack errors --help');
  });

  it('exits 2 on an unexpected positional argument', async () => {
    const r = await run(['errors', 'extra']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("unexpected argument 'extra'");
  });

  it('lists every stable error code, as text and as JSON lines', async () => {
    const text = await run(['errors']);
    expect(text.code).toBe(0);
    for (const code of Object.keys(VERIFY_ERROR_CODES)) expect(text.out).toContain(code);
    const json = await run(['errors', '--json']);
    const rows = json.out.trim().split('\n').map((l) => JSON.parse(l) as { code: string; meaning: string });
    expect(rows.map((r) => r.code)).toEqual(Object.keys(VERIFY_ERROR_CODES));
  });

  it('every registry entry loads the command it names, with the same words and summary', async () => {
    const { COMMANDS } = await import('./commands/index.ts');
    for (const entry of COMMANDS) {
      const command = await entry.load();
      expect(command.path, entry.path.join(' ')).toEqual(entry.path);
      expect(command.summary, entry.path.join(' ')).toBe(entry.summary);
    }
    expect(new Set(COMMANDS.map((c) => c.path.join(' '))).size).toBe(COMMANDS.length);
  });

  it('every registered command answers --help with its own usage', async () => {
    const { COMMANDS } = await import('./commands/index.ts');
    for (const c of COMMANDS) {
      const r = await run([...c.path, '--help']);
      expect(r.code, c.path.join(' ')).toBe(0);
      expect(r.out, c.path.join(' ')).toMatch(/Usage: attested-pack /);
    }
  });
});

describe('versions', () => {
  it('--version prints package.json version', async () => {
    const { readFileSync } = await import('node:fs');
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    const r = await run(['--version']);
    expect(r.out).toBe(`${pkg.version}\n`);
  });
});

describe('attested-pack-verify (the verifier package command)', () => {
  const runVerify = async (argv: string[]): Promise<CliRun> => {
    const { PassThrough } = await import('node:stream');
    const { verifyMain } = await import('./verify-main.ts');
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (c: Buffer) => (out += c.toString()));
    stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await verifyMain(argv, { stdout, stderr });
    return { code, out, err };
  };

  it('lists receipt, attestation and errors with the summaries of the full CLI', async () => {
    const { COMMANDS } = await import('./commands/index.ts');
    const r = await runVerify(['--help']);
    expect(r.code).toBe(0);
    for (const [word, full] of [['receipt', 'verify receipt'], ['attestation', 'verify attestation'], ['errors', 'errors']] as const) {
      const entry = COMMANDS.find((c) => c.path.join(' ') === full);
      expect(r.out).toContain(`${word}`);
      expect(r.out).toContain(entry?.summary ?? 'missing');
    }
  });

  it("shows each command's help under its own words", async () => {
    const r = await runVerify(['receipt', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage: attested-pack-verify receipt RECEIPT');
    expect(r.out).not.toContain('attested-pack verify');
  });

  it('names itself in usage errors (exit 2)', async () => {
    const r = await runVerify(['receipt']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('attested-pack-verify receipt: missing');
    const unknown = await runVerify(['pack']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain("attested-pack-verify: unknown command 'pack'");
  });
});
