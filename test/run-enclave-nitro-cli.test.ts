// `attested-pack run-enclave` against a fake nitro-cli on PATH that prints recorded,
// real-format output (cli/aws/testdata/nitro-cli), and with no nitro-cli at all.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../cli/main.ts';
import { TESTDATA, fakeNitroCli, recorded, type FakeNitroCli, type FakeNitroScenario } from '../cli/aws/fake-nitro-cli.ts';
import { parseDescribeEnclaves, parseRunEnclave, parseDescribeEif } from '../cli/aws/nitro-cli.ts';
import { writeEif } from '../build/eif.ts';
import { computeEifPcrs } from '../build/pcrs.ts';
import { createEifSignature } from '../build/eif-signature.ts';
import { parseBuildManifest, serializeBuildManifest } from '../verifier/build-manifest.ts';

const MANIFEST_V1 = join(TESTDATA, 'build-manifest-v1.json');
const MANIFEST_V2 = join(TESTDATA, 'build-manifest-v2.json');

// The fake nitro-cli does not read the EIF, run-enclave does (the signing certificate's
// dates are checked before nitro-cli is called): a small well-formed EIF stands in.
let eifDir: string;
let EIF: string;
const SIGNERS = join(TESTDATA, '..', '..', '..', 'build', 'testdata');

function writeTestEif(name: string, signer?: 'expired' | 'future'): string {
  const image = { kernel: Buffer.from('kernel'), cmdline: Buffer.from('console=ttyS0'), metadata: Buffer.from('{}'), ramdisks: [Buffer.from('boot'), Buffer.from('app')] };
  const signature = signer === undefined ? undefined : createEifSignature(computeEifPcrs(image)[0], {
    certificatePem: readFileSync(join(SIGNERS, `signer-${signer}.pem`), 'utf8'),
    privateKeyPem: readFileSync(join(SIGNERS, `signer-${signer}.key`), 'utf8'),
  });
  const path = join(eifDir, name);
  writeFileSync(path, writeEif(signature === undefined ? image : { ...image, signature }));
  return path;
}

let manifests = 0;
function manifestWith(trustPolicy: unknown): string {
  const m = JSON.parse(readFileSync(MANIFEST_V1, 'utf8')) as Record<string, unknown>;
  m.trustPolicy = trustPolicy;
  const path = join(eifDir, `manifest-${++manifests}.json`);
  writeFileSync(path, serializeBuildManifest(parseBuildManifest(JSON.stringify(m))));
  return path;
}

beforeAll(() => {
  eifDir = mkdtempSync(join(tmpdir(), 'ap-run-eif-'));
  EIF = writeTestEif('attested-pack.eif');
});
afterAll(() => rmSync(eifDir, { recursive: true, force: true }));

let fakes: FakeNitroCli[] = [];
let dirs: string[] = [];
afterEach(() => {
  for (const f of fakes) f.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  fakes = [];
  dirs = [];
});

function allocator(text = 'memory_mib: 4096\ncpu_count: 2\n'): string {
  const d = mkdtempSync(join(tmpdir(), 'ap-alloc-'));
  dirs.push(d);
  writeFileSync(join(d, 'allocator.yaml'), text);
  return join(d, 'allocator.yaml');
}

async function run(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await main(argv, { stdout, stderr, env });
  return { code, out, err };
}

async function runWith(scenario: FakeNitroScenario, extra: string[] = [], manifest = MANIFEST_V1, alloc = allocator(), eif = EIF) {
  const fake = fakeNitroCli(scenario);
  fakes.push(fake);
  const r = await run(['run-enclave', '--eif', eif, '--manifest', manifest, '--allocator', alloc, '--json', ...extra], fake.env);
  const json = r.out.trim() === '' ? undefined : (JSON.parse(r.out.trim().split('\n').at(-1) as string) as Record<string, unknown>);
  return { ...r, json, calls: fake.calls(), fake };
}

describe('recorded nitro-cli output parses', () => {
  it('reads describe-enclaves, run-enclave (after its progress lines) and describe-eif', () => {
    const [d] = parseDescribeEnclaves(recorded('describe-enclaves-v1.json'));
    expect(d).toMatchObject({ EnclaveCID: 16, State: 'RUNNING', Flags: 'NONE', MemoryMiB: 2048, CPUIDs: [1, 3] });
    expect(d?.Measurements?.HashAlgorithm).toBe('Sha384 { ... }');
    expect(parseRunEnclave(recorded('run-enclave.json')).EnclaveID).toBe('i-05f6ed443aEXAMPLE-enc173dfe3eEXAMPLE');
    expect(parseDescribeEif(recorded('describe-eif-v2.json')).Measurements.PCR0).toMatch(/^0b400def/);
  });

  it('refuses output without the documented fields', () => {
    expect(() => parseDescribeEnclaves('[{"EnclaveID":"x"}]')).toThrow(/ProcessID/);
    expect(() => parseDescribeEnclaves('Failed connections: 1')).toThrow(/no JSON/);
    expect(() => parseDescribeEif('{"EifVersion":4,"Measurements":{"PCR0":"00"},"IsSigned":false,"CheckCRC":true}')).toThrow(/PCR0 is not 96 hex/);
  });
});

describe('attested-pack run-enclave', () => {
  it('starts the manifest image with the requested memory/CPUs/CID and reports it', async () => {
    const r = await runWith({ eif: 'v1', afterRun: 'describe-enclaves-v1.json' }, ['--memory', '2048', '--cpu-count', '2']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ ok: true, enclaveCid: 16, memoryMiB: 2048, reused: false, enclaveName: 'attested-pack' });
    expect(r.calls).toEqual([
      `describe-eif --eif-path ${EIF}`,
      'describe-enclaves',
      `run-enclave --eif-path ${EIF} --memory 2048 --cpu-count 2 --enclave-name attested-pack --enclave-cid 16`,
      'describe-enclaves',
    ]);
    expect(r.calls.join('\n')).not.toContain('--debug-mode');
  });

  it('keeps an enclave that already runs the manifest image (safe to re-run)', async () => {
    const r = await runWith({ eif: 'v1', before: 'describe-enclaves-v1.json' });
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ ok: true, reused: true });
    expect(r.calls.some((c) => c.startsWith('run-enclave'))).toBe(false);
  });

  it('refuses an EIF that does not measure to the manifest, before launching it', async () => {
    const r = await runWith({ eif: 'v2' });
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ ok: false, code: 'EIF_MISMATCH' });
    expect(r.err).toMatch(/PCR0 is 0b400def70c52104… but the manifest says 55c0acc442fd815e…/);
    expect(r.err).toContain('fix: Deploy the EIF that the manifest describes');
    expect(r.calls.some((c) => c.startsWith('run-enclave'))).toBe(false);
  });

  it('terminates and refuses when the running enclave is another image', async () => {
    // describe-eif agrees with the manifest, but what runs is v2 (e.g. the file changed under it).
    const r = await runWith({ eif: 'v1', afterRun: 'describe-enclaves-v2.json' });
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ ok: false, code: 'ENCLAVE_MISMATCH' });
    expect(r.calls.at(-1)).toBe('terminate-enclave --enclave-id i-05f6ed443aEXAMPLE-enc173dfe3eEXAMPLE');
    expect(parseDescribeEnclaves(readFileSync(join(r.fake.dir, 'enclaves.json'), 'utf8'))).toEqual([]);
  });

  it('terminates and refuses a debug-mode enclave (its attestation reports zero PCRs)', async () => {
    const r = await runWith({ eif: 'v1', afterRun: 'describe-enclaves-v1-debug.json' });
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ code: 'ENCLAVE_DEBUG' });
    expect(r.err).toContain('fix: Start it without --debug-mode');
    expect(r.calls.at(-1)).toMatch(/^terminate-enclave/);
  });

  it('refuses when another enclave runs, unless --replace', async () => {
    const refused = await runWith({ eif: 'v2', before: 'describe-enclaves-v1.json', afterRun: 'describe-enclaves-v2.json' }, [], MANIFEST_V2);
    expect(refused.code).toBe(1);
    expect(refused.json).toMatchObject({ code: 'ENCLAVE_CONFLICT' });
    expect(refused.err).toContain('Pass --replace');
    const replaced = await runWith({ eif: 'v2', before: 'describe-enclaves-v1.json', afterRun: 'describe-enclaves-v2.json' }, ['--replace'], MANIFEST_V2);
    expect(replaced.code).toBe(0);
    expect(replaced.calls).toContain('terminate-enclave --enclave-id i-05f6ed443aEXAMPLE-enc173dfe3eEXAMPLE');
    expect(replaced.calls.indexOf('terminate-enclave --enclave-id i-05f6ed443aEXAMPLE-enc173dfe3eEXAMPLE')).toBeLessThan(replaced.calls.findIndex((c) => c.startsWith('run-enclave')));
  });

  it('refuses when the allocator reserves too little, naming the settings to change', async () => {
    const r = await runWith({}, ['--memory', '2048', '--cpu-count', '4'], MANIFEST_V1, allocator('memory_mib: 512\ncpu_count: 2\n'));
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ code: 'ALLOCATOR_CONFIG' });
    expect(r.err).toContain('memory_mib is 512 but the enclave needs 2048 MiB');
    expect(r.err).toContain('cpu_count reserves 2 CPU(s) but the enclave needs 4');
    expect(r.err).toContain('systemctl restart nitro-enclaves-allocator.service');
    expect(r.calls).toEqual([]);
  });

  it('refuses a missing or contradictory allocator configuration', async () => {
    const missing = await runWith({}, [], MANIFEST_V1, join(tmpdir(), 'ap-no-such-dir', 'allocator.yaml'));
    expect(missing.json).toMatchObject({ code: 'ALLOCATOR_CONFIG' });
    expect(missing.err).toContain('ENOENT');
    const both = await runWith({}, [], MANIFEST_V1, allocator('memory_mib: 4096\ncpu_count: 2\ncpu_pool: 2,3\n'));
    expect(both.err).toContain('both cpu_count and cpu_pool');
    const pool = await runWith({}, ['--cpu-count', '4'], MANIFEST_V1, allocator('memory_mib: 4096\ncpu_pool: 2,3,6-9\n'));
    expect(pool.code).toBe(0);
  });

  it('explains a nitro-cli error code (E27: allocator memory)', async () => {
    const r = await runWith({ fail: { 'run-enclave': recorded('run-enclave-E27.txt') } });
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ code: 'NITRO_CLI_FAILED' });
    expect(r.err).toContain('(E27)');
    expect(r.err).toContain('raise memory_mib in /etc/nitro_enclaves/allocator.yaml');
  });

  it('says how to install nitro-cli when it is missing', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'ap-empty-path-'));
    dirs.push(empty);
    const r = await run(['run-enclave', '--eif', EIF, '--manifest', MANIFEST_V1, '--allocator', allocator(), '--json'], { ...process.env, PATH: empty });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ ok: false, code: 'NITRO_CLI_MISSING' });
    expect(r.err).toContain('aws-nitro-enclaves-cli');
  });

  it('refuses a DEVELOPMENT trust policy, and an image without one, before calling nitro-cli', async () => {
    const dev = await runWith({ eif: 'v1', afterRun: 'describe-enclaves-v1.json' }, [], manifestWith({ sha384: 'd'.repeat(96), development: true, path: '/app/trust-policy.json' }));
    expect(dev.code).toBe(1);
    expect(dev.json).toMatchObject({ ok: false, code: 'TRUST_POLICY_DEVELOPMENT' });
    expect(dev.err).toContain('DEVELOPMENT');
    expect(dev.calls).toEqual([]);
    const none = await runWith({ eif: 'v1', afterRun: 'describe-enclaves-v1.json' }, [], manifestWith(null));
    expect(none.json).toMatchObject({ ok: false, code: 'TRUST_POLICY_ABSENT' });
    expect(none.err).toContain('--trust-policy');
    expect(none.calls).toEqual([]);
  });

  it('refuses an EIF whose signing certificate is expired or not yet valid, before calling nitro-cli', async () => {
    const expired = await runWith({ eif: 'v1', afterRun: 'describe-enclaves-v1.json' }, [], MANIFEST_V1, allocator(), writeTestEif('expired.eif', 'expired'));
    expect(expired.code).toBe(1);
    expect(expired.json).toMatchObject({ ok: false, code: 'EIF_SIGNING_CERT_EXPIRED' });
    expect(expired.err).toContain('expired at 2020-01-02T00:00:00.000Z');
    expect(expired.calls).toEqual([]);
    const future = await runWith({ eif: 'v1', afterRun: 'describe-enclaves-v1.json' }, [], MANIFEST_V1, allocator(), writeTestEif('future.eif', 'future'));
    expect(future.json).toMatchObject({ ok: false, code: 'EIF_SIGNING_CERT_NOT_YET_VALID' });
    expect(future.err).toContain('valid only from 2120-01-01T00:00:00.000Z');
    expect(future.calls).toEqual([]);
    const unreadable = await runWith({ eif: 'v1' }, [], MANIFEST_V1, allocator(), join(eifDir, 'missing.eif'));
    expect(unreadable.json).toMatchObject({ ok: false, code: 'EIF_MISMATCH' });
    expect(unreadable.calls).toEqual([]);
  });

  it('exits 2 on usage errors', async () => {
    expect((await run(['run-enclave', '--manifest', MANIFEST_V1], process.env)).code).toBe(2);
    expect((await run(['run-enclave', '--eif', 'x', '--manifest', MANIFEST_V1, '--enclave-cid', '2'], process.env)).code).toBe(2);
    expect((await run(['run-enclave', '--eif', 'x', '--manifest', join(tmpdir(), 'ap-none.json')], process.env)).code).toBe(2);
  });
});
