// Errors a person (or a script) can act on: one JSON error object with --json on every
// command, exit 2 for usage/input errors and 1 for refusals, "did you mean", `help
// <command>`, a hint toward --root for simulated documents, and no raw CBOR parser message
// for a JSON file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAllCommands } from '../cli/commands/index.ts';
import { createTestCa } from '../simulator/attestation-issuer.ts';
import { runCli } from './cli-support.ts';
import { makeReceipt } from './receipt-fixtures.ts';

const ALL_COMMANDS = await loadAllCommands();

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cli-errors-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** stdout must be exactly one JSON object line: the error. */
function oneJsonError(out: string): { ok: boolean; error: { code: string; message: string } } {
  const lines = out.trim().split('\n');
  expect(lines.length, out).toBe(1);
  return JSON.parse(lines[0] as string) as { ok: boolean; error: { code: string; message: string } };
}

describe('--json: one error object for input errors, on every command that has --json', () => {
  const withJson = ALL_COMMANDS.filter((c) => 'json' in c.options);

  it.each(withJson.map((c) => [c.path.join(' '), c] as const))('%s: an unknown flag → {ok:false, error: USAGE_ERROR}, exit 2', async (_n, c) => {
    const r = await runCli([...c.path, '--no-such-flag', '--json']);
    expect(r.code).toBe(2);
    expect(oneJsonError(r.out)).toMatchObject({ ok: false, error: { code: 'USAGE_ERROR' } });
  });

  it.each([
    ['verify', 'receipt', 'missing.json', '--manifest', 'missing-manifest.json'],
    ['describe', 'missing.eif'],
    ['pcr-diff', 'a.eif', 'b.eif'],
    ['rebuild', '--manifest', 'missing-manifest.json'],
    ['policy', 'lint', 'missing-policy.json'],
    ['open', 'missing.json', '--allow-unsigned', '--age-identity', 'missing.key'],
  ])('an unreadable input file → one JSON error, exit 2 (%s %s)', async (...argv) => {
    const r = await runCli([...argv, '--json'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(oneJsonError(r.out).ok).toBe(false);
  });

  it('a malformed build manifest is an input error (exit 2): one JSON error with its code', async () => {
    const m = file('dup-manifest.json', '{"schema": "a", "schema": "b"}');
    const policy = file('policy.json', '{"Version": "2012-10-17", "Statement": []}');
    const r = await runCli(['policy', 'lint', policy, '--manifest', m, '--json']);
    expect(r.code).toBe(2);
    expect(oneJsonError(r.out).ok).toBe(false);
  });

  it('verify receipt with a duplicate-member manifest: exit 2, the manifest code in the JSON error', async () => {
    const m = file('dup-manifest-2.json', '{"schema": "a", "schema": "b"}');
    const r = await runCli(['verify', 'receipt', m, '--manifest', m, '--json']);
    expect(r.code).toBe(2);
    expect(oneJsonError(r.out).error.code).toBe('MANIFEST_MALFORMED');
  });

  it('policy generate (JSON output without a --json flag): --json still gets a JSON error, exit 2', async () => {
    const r = await runCli(['policy', 'generate', '--json']);
    expect(r.code).toBe(2);
    expect(oneJsonError(r.out).error.code).toBe('USAGE_ERROR');
  });

  it('an unknown command and a bare group word with --json', async () => {
    const unknown = await runCli(['frobnicate', '--json']);
    expect(unknown.code).toBe(2);
    expect(oneJsonError(unknown.out).error.code).toBe('USAGE_ERROR');
    const group = await runCli(['verify', '--json']);
    expect(group.code).toBe(2);
    expect(oneJsonError(group.out).error.code).toBe('USAGE_ERROR');
  });
});

describe('exit codes: 2 for usage and input errors, 1 for refusals', () => {
  it('verify attestation: --no-pcr-check with --pcr is a usage error (2); a refused document is 1', async () => {
    const doc = file('garbage.bin', Uint8Array.of(0x84, 0x01));
    const contradict = await runCli(['verify', 'attestation', doc, '--no-pcr-check', '--pcr', `0=${'00'.repeat(48)}`, '--json']);
    expect(contradict.code).toBe(2);
    expect(oneJsonError(contradict.out).error.code).toBe('USAGE_ERROR');
    const refused = await runCli(['verify', 'attestation', doc, '--no-pcr-check']);
    expect(refused.code).toBe(1);
  });
});

describe('did you mean', () => {
  it('a mistyped flag names the closest one', async () => {
    const r = await runCli(['verify', 'attestation', 'x.cbor', '--manfest', 'm.json']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("Unknown option '--manfest'. Did you mean '--manifest'?");
  });
  it('a mistyped command names the closest one', async () => {
    expect((await runCli(['verfy', 'receipt', 'r.json'])).err).toContain("Did you mean 'verify receipt'?");
    expect((await runCli(['pcr-dif'])).err).toContain("Did you mean 'pcr-diff'?");
    expect((await runCli(['verify', 'recipt'])).err).toContain("Did you mean 'verify receipt'?");
    const far = await runCli(['frobnicate']);
    expect(far.code).toBe(2);
    expect(far.err).not.toContain('Did you mean');
  });
});

describe('attested-pack help <command>', () => {
  it('prints the command help, a group listing, or refuses an unknown command', async () => {
    const receipt = await runCli(['help', 'verify', 'receipt']);
    expect(receipt.code).toBe(0);
    expect(receipt.out).toContain('Usage: attested-pack verify receipt');
    const group = await runCli(['help', 'verify']);
    expect(group.code).toBe(0);
    expect(group.out).toContain('verify attestation');
    const top = await runCli(['help']);
    expect(top.code).toBe(0);
    expect(top.out).toContain('Commands:');
    const bad = await runCli(['help', 'verfy']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("Did you mean 'verify'?");
  });
});

describe('messages a person can act on', () => {
  it('a simulated document checked against AWS: CHAIN_UNTRUSTED_ROOT suggests --root', async () => {
    const ca = await createTestCa();
    const doc = file('simulated.cbor', await ca.issue({ pcrs: new Map([[0, new Uint8Array(48).fill(1)]]) }));
    const r = await runCli(['verify', 'attestation', doc, '--no-pcr-check', '--json']);
    expect(r.code).toBe(1);
    const line = JSON.parse(r.out) as { error: { code: string; message: string } };
    expect(line.error.code).toBe('CHAIN_UNTRUSTED_ROOT');
    expect(line.error.message).toContain('SIMULATED');
    expect(line.error.message).toContain('--root');
  });

  it('a JSON file passed as an attestation document says so, without a CBOR parser message', async () => {
    const { receipt } = await makeReceipt();
    for (const [name, content, extra] of [
      ['doc.json', '{"hello": "world", "n": 729618471970891877}\n', ''],
      ['receipt.json', receipt, 'verify receipt'],
    ] as const) {
      const r = await runCli(['verify', 'attestation', file(name, content), '--no-pcr-check', '--json']);
      expect(r.code).toBe(1);
      const line = JSON.parse(r.out) as { error: { code: string; message: string } };
      expect(line.error.code).toBe('MALFORMED_CBOR');
      expect(line.error.message).toContain('this looks like JSON, not a CBOR attestation document');
      expect(line.error.message).toContain(extra);
      expect(line.error.message).not.toMatch(/runs past the end/);
    }
  });

  it('binary garbage: the CBOR message says it was reading an attestation document', async () => {
    const r = await runCli(['verify', 'attestation', file('bin.cbor', Uint8Array.of(0x84, 0x5b, 0xff, 0xff)), '--no-pcr-check', '--json']);
    expect(r.code).toBe(1);
    expect((JSON.parse(r.out) as { error: { message: string } }).error.message).toMatch(/^not a well-formed CBOR attestation document: /);
  });
});
