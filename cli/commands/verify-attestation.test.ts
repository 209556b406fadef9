import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decoder } from 'cbor-x';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeChain, makeDocument, T0 } from '../../verifier/test-documents.ts';
import { decodeDocumentFile, printable } from './verify-attestation.ts';
import { runCli, type CliRun } from '../../test/cli-support.ts';

const FIXTURES = new URL('../../test/fixtures/nitro/docs/', import.meta.url);
const fixture = (name: string): string => new URL(name, FIXTURES).pathname;
const VALID = fixture('anjuna-1.cbor');
const VALID_INDEFINITE = fixture('epsilon-nitro-verify-h1.cbor');
const DEBUG = fixture('anjuna-4.cbor');
const NITROTPM = fixture('eternis-as-1.cbor');
const BAD_SIGNATURE = fixture('veracruz-h1.cbor');

const run = (argv: string[]): Promise<CliRun> => runCli(argv);

const jsonLines = (out: string): Array<Record<string, unknown>> => out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
const cborx = new Decoder({ mapsAsObjects: false, useRecords: false });
/** PCRs of a fixture as an independent decoder reads them, as hex. */
function pcrsOf(file: string): Map<number, string> {
  const cose = cborx.decode(readFileSync(file)) as unknown[];
  const payload = cborx.decode(cose[2] as Uint8Array) as Map<string, unknown>;
  return new Map([...(payload.get('pcrs') as Map<number, Uint8Array>)].map(([i, v]) => [i, Buffer.from(v).toString('hex')]));
}

let dir: string;
function manifestFor(pcrs: Map<number, string>): string {
  const file = join(dir, `manifest-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({
    schema: 'attested-pack/build-manifest/v1',
    project: { name: 'attested-pack', version: '0.1.0', sourceCommit: 'a'.repeat(40), sourceDirty: false },
    blobSet: { kind: 'development', description: 'test' },
    sourceDateEpoch: 0,
    inputs: [],
    eif: { file: 'enclave.eif', sha384: 'b'.repeat(96), size: 1 },
    pcrs: { '0': pcrs.get(0), '1': pcrs.get(1), '2': pcrs.get(2) },
    trustPolicy: null,
  }));
  return file;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'verify-attestation-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('verify attestation: people output', () => {
  it('lists every check with ✓, the AWS trust anchor, and exits 0 with --no-pcr-check', async () => {
    const r = await run(['verify', 'attestation', VALID, '--at', 'document', '--no-pcr-check']);
    expect(r.code).toBe(0);
    for (const name of ['cose-structure', 'document-format', 'trust-anchor', 'chain', 'certificate-validity', 'cose-signature']) {
      expect(r.out).toMatch(new RegExp(`✓ ${name} `));
    }
    expect(r.out).toMatch(/trust anchor\s+AWS Nitro root G1 \(sha256 641a0321/);
    expect(r.out).toContain('i-078824548edcf6519-enc01784234ec227b58');
    expect(r.out).toMatch(/RESULT\s+VERIFIED \(authenticity only: PCRs NOT checked/);
  });

  it('without any PCR expectation: authenticity checked, PCRs reported unchecked, exit 1', async () => {
    const r = await run(['verify', 'attestation', VALID, '--at', 'document']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/✓ cose-signature/);
    expect(r.out).toMatch(/✗ pcrs\s+no PCR expectation given/);
    expect(r.out).toContain('REFUSED  PCR_POLICY_EMPTY');
  });

  it('--manifest with matching PCRs passes; with a PCR mismatch exits 1 and marks the check ✗', async () => {
    const pcrs = pcrsOf(VALID);
    const ok = await run(['verify', 'attestation', VALID, '--at', 'document', '--manifest', manifestFor(pcrs)]);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/✓ pcrs\s+PCR0, PCR1, PCR2 match/);
    const wrong = new Map(pcrs);
    wrong.set(1, 'f'.repeat(96));
    const bad = await run(['verify', 'attestation', VALID, '--at', 'document', '--manifest', manifestFor(wrong)]);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/✗ pcrs\s+PCR1 is/);
    expect(bad.out).toContain('PCR_MISMATCH');
  });

  it('--pcr flags; debug documents need --allow-debug', async () => {
    const pcr4 = pcrsOf(DEBUG).get(4) as string;
    const refused = await run(['verify', 'attestation', DEBUG, '--at', 'document', '--pcr', `4=${pcr4}`]);
    expect(refused.code).toBe(1);
    expect(refused.out).toContain('DEBUG_MODE');
    const allowed = await run(['verify', 'attestation', DEBUG, '--at', 'document', '--pcr', `4=${pcr4}`, '--allow-debug']);
    expect(allowed.code).toBe(0);
    expect(allowed.out).toContain('DEBUG-MODE ENCLAVE (allowed)');
  });

  it('--no-pcr-check does not accept a debug-mode document; --allow-debug does', async () => {
    const refused = await run(['verify', 'attestation', DEBUG, '--at', 'document', '--no-pcr-check', '--json']);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.out)).toMatchObject({ ok: false, error: { code: 'DEBUG_MODE' } });
    const allowed = await run(['verify', 'attestation', DEBUG, '--at', 'document', '--no-pcr-check', '--allow-debug', '--json']);
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.out)).toMatchObject({ ok: true, debug: true });
  });

  it('shows control characters from a document as escapes, never raw', async () => {
    const chain = await makeChain();
    const doc = join(dir, 'escape.cbor');
    writeFileSync(doc, makeDocument(chain, { set: { module_id: 'i-0abc-enc0\u001b[2J\u001b]0;owned\u0007\u202e' } }));
    const r = await run(['verify', 'attestation', doc, '--at', new Date(T0).toISOString(), '--no-pcr-check']);
    expect(r.code).toBe(1); // untrusted root: the module id is shown as unverified
    expect(r.out).toContain('module (unverified)');
    expect(r.out).toContain('\\u{1b}[2J');
    expect(r.out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f\u202e]/);
    expect(printable('a\tb\u009b')).toBe('a\\u{9}b\\u{9b}');
  });

  it('verified now, a real document has expired (exit 1, CERT_EXPIRED)', async () => {
    const r = await run(['verify', 'attestation', VALID, '--no-pcr-check']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/✗ certificate-validity/);
    expect(r.out).toContain('CERT_EXPIRED');
  });

  it('labels a custom SIMULATED root loudly', async () => {
    const chain = await makeChain();
    const doc = join(dir, 'simulated.cbor');
    writeFileSync(doc, makeDocument(chain));
    const root = join(dir, 'root.pem');
    writeFileSync(root, `-----BEGIN CERTIFICATE-----\n${Buffer.from(chain.root.der).toString('base64')}\n-----END CERTIFICATE-----\n`);
    const r = await run(['verify', 'attestation', doc, '--root', root, '--at', new Date(T0).toISOString(), '--no-pcr-check']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('!!! SIMULATED ROOT — NOT AWS HARDWARE !!!');
    expect(r.out).toContain('against a SIMULATED root, not AWS');
    const json = jsonLines((await run(['verify', 'attestation', doc, '--root', root, '--at', new Date(T0).toISOString(), '--no-pcr-check', '--json'])).out);
    expect(json[0]?.trust).toMatchObject({ kind: 'simulated' });
    // The same document against the default root is untrusted.
    const aws = await run(['verify', 'attestation', doc, '--at', new Date(T0).toISOString(), '--no-pcr-check']);
    expect(aws.code).toBe(1);
    expect(aws.out).toContain('CHAIN_UNTRUSTED_ROOT');
  });
});

describe('verify attestation --json, batches and encodings', () => {
  it('one JSON object per file, in order, with codes; exit 1 if any is refused', async () => {
    const r = await run(['verify', 'attestation', VALID, NITROTPM, BAD_SIGNATURE, VALID_INDEFINITE, '--at', 'document', '--no-pcr-check', '--json']);
    expect(r.code).toBe(1);
    const lines = jsonLines(r.out);
    expect(lines.map((l) => l.file)).toEqual([VALID, NITROTPM, BAD_SIGNATURE, VALID_INDEFINITE]);
    expect(lines.map((l) => l.ok)).toEqual([true, false, false, true]);
    expect(lines.map((l) => (l.error as { code?: string } | null)?.code ?? null)).toEqual([null, 'NOT_ENCLAVE_DOCUMENT', 'COSE_SIGNATURE_INVALID', null]);
    const first = lines[0] as Record<string, unknown>;
    expect(first.moduleId).toBe('i-078824548edcf6519-enc01784234ec227b58');
    expect(first.timestamp).toBe(1616018515685);
    expect((first.pcrs as Record<string, string>)['0']).toBe(pcrsOf(VALID).get(0));
    expect(first.trust).toMatchObject({ kind: 'aws' });
    expect((first.checks as Array<{ name: string; status: string }>).find((c) => c.name === 'cose-signature')?.status).toBe('pass');
    const third = lines[2] as Record<string, unknown>;
    expect((third.checks as Array<{ name: string; status: string }>).at(-1)).toMatchObject({ name: 'cose-signature', status: 'fail' });
  });

  it('exit 0 when every file verifies', async () => {
    const r = await run(['verify', 'attestation', VALID, VALID_INDEFINITE, '--at', 'document', '--no-pcr-check', '--json']);
    expect(r.code).toBe(0);
    expect(jsonLines(r.out).every((l) => l.ok === true)).toBe(true);
  });

  it('reads base64, URL-safe base64 and hex text files', async () => {
    const raw = readFileSync(VALID);
    const files = {
      base64: raw.toString('base64').replace(/(.{76})/g, '$1\n'),
      base64url: raw.toString('base64url'),
      hex: `0x${raw.toString('hex')}\n`,
    };
    for (const [name, text] of Object.entries(files)) {
      const file = join(dir, `doc.${name}`);
      writeFileSync(file, text);
      const r = await run(['verify', 'attestation', file, '--at', 'document', '--no-pcr-check', '--json']);
      expect(r.code, name).toBe(0);
      expect(jsonLines(r.out)[0]?.encoding).toBe(name === 'hex' ? 'hex' : 'base64');
    }
    expect(decodeDocumentFile(new Uint8Array(raw)).encoding).toBe('cbor');
    expect(decodeDocumentFile(new TextEncoder().encode('not a document')).encoding).toBe('cbor');
  });

  it('text that is not a document is refused with a MALFORMED code (exit 1)', async () => {
    const file = join(dir, 'junk.txt');
    writeFileSync(file, 'hello world\n');
    const r = await run(['verify', 'attestation', file, '--at', 'document', '--no-pcr-check', '--json']);
    expect(r.code).toBe(1);
    expect((jsonLines(r.out)[0]?.error as { code: string }).code).toMatch(/^MALFORMED_/);
  });

  it('a file over 256 KiB is refused with INPUT_TOO_LARGE (exit 1), a file of exactly 256 KiB is read and given to the verifier', async () => {
    const big = join(dir, 'big.cbor');
    writeFileSync(big, Buffer.alloc(256 * 1024 + 1, 0x20));
    const r = await run(['verify', 'attestation', big, '--at', 'document', '--no-pcr-check', '--json']);
    expect(r.code).toBe(1);
    expect(jsonLines(r.out)[0]?.error).toMatchObject({ code: 'INPUT_TOO_LARGE', message: 'file is larger than 262144 bytes' });
    const limit = join(dir, 'limit.cbor');
    writeFileSync(limit, Buffer.alloc(256 * 1024, 0x20));
    const atLimit = await run(['verify', 'attestation', limit, '--at', 'document', '--no-pcr-check', '--json']);
    // Read whole and handed to the verifier, which applies its own document limit.
    expect((jsonLines(atLimit.out)[0]?.error as { message: string }).message).not.toBe('file is larger than 262144 bytes');
  });

  it('a batch of many files gives one report per file, in order', async () => {
    const files = Array.from({ length: 150 }, (_, i) => (i % 3 === 0 ? VALID_INDEFINITE : i % 3 === 1 ? VALID : BAD_SIGNATURE));
    const r = await run(['verify', 'attestation', ...files, '--at', 'document', '--no-pcr-check', '--json']);
    expect(r.code).toBe(1);
    const lines = jsonLines(r.out);
    expect(lines.map((l) => l.file)).toEqual(files);
    expect(lines.map((l) => l.ok)).toEqual(files.map((f) => f !== BAD_SIGNATURE));
  });

  it('an unreadable file is exit 2 with FILE_UNREADABLE, after the others were still checked', async () => {
    const r = await run(['verify', 'attestation', join(dir, 'missing.cbor'), VALID, '--at', 'document', '--no-pcr-check', '--json']);
    expect(r.code).toBe(2);
    const lines = jsonLines(r.out);
    expect((lines[0]?.error as { code: string }).code).toBe('FILE_UNREADABLE');
    expect(lines[1]?.ok).toBe(true);
  });
});

describe('verify attestation: usage errors exit 2', () => {
  it.each([
    [['verify', 'attestation']],
    [['verify', 'attestation', VALID, '--pcr', '0=abc']],
    [['verify', 'attestation', VALID, '--pcr', '40=' + '0'.repeat(96)]],
    [['verify', 'attestation', VALID, '--pcr', '0=' + '0'.repeat(96), '--pcr', '0=' + '1'.repeat(96)]],
    [['verify', 'attestation', VALID, '--at', 'yesterday']],
    [['verify', 'attestation', VALID, '--at', 'document', '--max-age', '5m']],
    [['verify', 'attestation', VALID, '--max-age', 'soon']],
    [['verify', 'attestation', VALID, '--no-pcr-check', '--pcr', '0=' + '0'.repeat(96)]],
    [['verify', 'attestation', VALID, '--root', '/nonexistent/root.pem']],
    [['verify', 'attestation', VALID, '--manifest', '/nonexistent/manifest.json']],
    [['verify', 'attestation', VALID, '--bogus']],
  ])('%j', async (argv) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.err).not.toBe('');
  });

  it('a malformed manifest is a usage error naming MANIFEST_MALFORMED', async () => {
    const file = join(dir, 'bad-manifest.json');
    writeFileSync(file, '{"schema":"nope"}');
    const r = await run(['verify', 'attestation', VALID, '--manifest', file]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('MANIFEST_MALFORMED');
  });

  it('--help documents the options and exit codes', async () => {
    const r = await run(['verify', 'attestation', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--at', '--max-age', '--root', '--pcr', '--manifest', '--allow-debug', '--no-pcr-check', '--json']) expect(r.out).toContain(flag);
  });
});
