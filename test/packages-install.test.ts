// Both packages install from their `npm pack` tarballs into empty directories (no
// workspace links, dependencies from the npm cache or registry) and work from there:
// @attested-pack/verifier verifies a receipt, refuses a tampered one and imports as a
// library with no dependency installed; attested-pack runs `describe` and `policy lint`,
// and `rebuild` from the installed package reproduces the image built from this checkout
// (MATCH), through the npm-shrinkwrap.json the package ships.
import { execFile, type ExecFileException } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli/main.ts';
import { describeEif } from '../build/describe.ts';
import { writeEif } from '../build/eif.ts';
import { serializeBuildManifest } from '../verifier/build-manifest.ts';
import { editReceipt, makeReceipt, sampleManifest, testCa } from './receipt-fixtures.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const MANIFEST = fileURLToPath(new URL('../policy/fixtures/manifest.json', import.meta.url));
const ROLE = 'arn:aws:iam::111122223333:role/enclave';
const NPM_QUIET = ['--no-audit', '--no-fund', '--loglevel=error'];

interface Run { code: number; stdout: string; stderr: string }
function run(file: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((done) => {
    execFile(file, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' } }, (e: ExecFileException | null, stdout, stderr) => {
      done({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : -1, stdout, stderr });
    });
  });
}
async function ok(file: string, args: string[], cwd: string): Promise<string> {
  const r = await run(file, args, cwd);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

let work: string;
let verifierDir: string;
let fullDir: string;

/** Packs the workspace package (or the root) and installs the tarball into a new empty project. */
async function packAndInstall(workspace: string | undefined, name: string): Promise<string> {
  const out = join(work, `tgz-${name}`);
  mkdirSync(out);
  await ok('npm', ['pack', ...(workspace === undefined ? [] : ['-w', workspace]), '--pack-destination', out, '--loglevel=error'], REPO);
  const [tgz] = readdirSync(out).filter((f) => f.endsWith('.tgz'));
  expect(tgz, name).toBeDefined();
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), '{"name":"consumer","private":true}\n');
  await ok('npm', ['install', '--prefer-offline', ...NPM_QUIET, join(out, tgz as string)], dir);
  return dir;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ap-packages-'));
  [verifierDir, fullDir] = await Promise.all([packAndInstall('@attested-pack/verifier', 'verifier'), packAndInstall(undefined, 'full')]);
  const ca = await testCa();
  const { receipt } = await makeReceipt();
  writeFileSync(join(work, 'receipt.json'), receipt);
  writeFileSync(join(work, 'tampered.json'), editReceipt(receipt, (j) => {
    const d = j.dsse as { payload: string };
    d.payload = Buffer.from(Buffer.from(d.payload, 'base64').toString().replace('payments-api', 'billing-api')).toString('base64');
  }));
  writeFileSync(join(work, 'manifest.json'), serializeBuildManifest(sampleManifest()));
  writeFileSync(join(work, 'root.pem'), ca.rootPem);
}, 300_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('@attested-pack/verifier from its tarball', () => {
  it('installs with no dependency and nothing but its own files', () => {
    expect(readdirSync(join(verifierDir, 'node_modules')).filter((n) => !n.startsWith('.'))).toEqual(['@attested-pack']);
    const pkg = JSON.parse(readFileSync(join(verifierDir, 'node_modules/@attested-pack/verifier/package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg.dependencies).toBeUndefined();
  });

  it('attested-pack-verify verifies a receipt (exit 0) and refuses a tampered one (exit 1, USER_DATA_MISMATCH)', async () => {
    const bin = join(verifierDir, 'node_modules/.bin/attested-pack-verify');
    const args = (file: string): string[] => ['receipt', join(work, file), '--manifest', join(work, 'manifest.json'), '--root', join(work, 'root.pem'), '--json'];
    const good = await run(bin, args('receipt.json'), verifierDir);
    expect(good.stderr).toBe('');
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ ok: true, trust: { kind: 'simulated' }, predicate: { pack: { identity: 'payments-api' } } });
    const bad = await run(bin, args('tampered.json'), verifierDir);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, error: { code: 'USER_DATA_MISMATCH' } });
    const usage = await run(bin, ['receipt', join(work, 'receipt.json')], verifierDir);
    expect(usage.code).toBe(2);
  });

  it('imports as a library', async () => {
    const script = `import { verifyReceipt, parseBuildManifest } from '@attested-pack/verifier';
import { readFileSync } from 'node:fs';
const [r, m, root] = process.argv.slice(1);
const pem = readFileSync(root, 'utf8').replace(/-----[^-]+-----|\\s+/g, '');
const v = verifyReceipt(readFileSync(r), { manifest: parseBuildManifest(readFileSync(m)), root: new Uint8Array(Buffer.from(pem, 'base64')) });
process.stdout.write(v.predicate.pack.identity);`;
    const out = await ok(process.execPath, ['--input-type=module', '-e', script, join(work, 'receipt.json'), join(work, 'manifest.json'), join(work, 'root.pem')], verifierDir);
    expect(out).toBe('payments-api');
  });
});

describe('attested-pack from its tarball', () => {
  const bin = (): string => join(fullDir, 'node_modules/.bin/attested-pack');

  it('runs compiled JavaScript only: no TypeScript runner installed', () => {
    expect(readdirSync(join(fullDir, 'node_modules'))).not.toContain('tsx');
    expect(readdirSync(join(fullDir, 'node_modules'))).not.toContain('typescript');
  });

  it('describe prints the PCRs of an EIF', async () => {
    const eif = writeEif({ kernel: Buffer.from('kernel '.repeat(100)), cmdline: Buffer.from('console=ttyS0'), metadata: Buffer.from('{"ImageName":"t"}'), ramdisks: [Buffer.from('boot'), Buffer.from('app')] });
    writeFileSync(join(work, 'test.eif'), eif);
    const out = await ok(bin(), ['describe', join(work, 'test.eif'), '--json'], fullDir);
    const expected = describeEif(eif);
    expect(JSON.parse(out)).toMatchObject({ pcrs: JSON.parse(JSON.stringify(expected.pcrs)) as unknown });
  });

  it('policy generate and policy lint: a generated policy lints clean, a fail-open one does not', async () => {
    const generated = await ok(bin(), ['policy', 'generate', '--manifest', MANIFEST, '--role', ROLE, '--admin', 'arn:aws:iam::111122223333:role/admin', '--key', 'sops'], fullDir);
    writeFileSync(join(work, 'sops.json'), generated);
    const lint = await run(bin(), ['policy', 'lint', join(work, 'sops.json'), '--manifest', MANIFEST, '--role', ROLE], fullDir);
    expect(lint.code).toBe(0);
    expect(lint.stdout).toContain('0 error(s), 0 warning(s)');
    const bad = await run(bin(), ['policy', 'lint', join(REPO, 'policy/fixtures/KP001-allow-without-deny.json'), '--manifest', MANIFEST, '--role', ROLE], fullDir);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('KP001');
  });
});

describe('rebuild from the installed package', () => {
  it('reproduces the image built from this checkout: MATCH on every input and PCR', async () => {
    // The download cache the image-build tests fill; the same pinned inputs either way.
    const cache = join(REPO, '.cache', 'attested-pack');
    const built = join(work, 'built');
    const log = new PassThrough();
    log.resume();
    const code = await main(['build', '--out', built, '--cache', cache], { cwd: REPO, stdout: log, stderr: log });
    expect(code).toBe(0);
    const r = await run(join(fullDir, 'node_modules/.bin/attested-pack'), ['rebuild', '--manifest', join(built, 'build-manifest.json'), '--cache', cache, '--json'], fullDir);
    expect(r.stderr).toContain('installing the shrinkwrapped dependency tree');
    const report = JSON.parse(r.stdout) as { match: boolean; checks: Array<{ what: string; ok: boolean; informational?: boolean }> };
    expect(report.checks.filter((c) => !c.ok && c.informational !== true)).toEqual([]);
    expect(report.match).toBe(true);
    expect(r.code).toBe(0);
  }, 300_000);
});
