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
