// The CLI loads only what the chosen command needs: `--help` loads no command module,
// and `verify receipt` / `verify attestation` load no npm package at all (so never the
// simulator's dependencies, the AWS SDK or fastify) and nothing from simulator/, host/,
// enclave/ or build/. Observed in a child process through a module-resolution hook.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeBuildManifest } from '../verifier/build-manifest.ts';
import { makeReceipt, sampleManifest, testCa } from './receipt-fixtures.ts';
import { runTraced, type TracedRun } from './module-trace.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const NITRO_DOC = fileURLToPath(new URL('./fixtures/nitro/docs/anjuna-1.cbor', import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ap-lazy-'));
  const ca = await testCa();
  const { receipt } = await makeReceipt();
  writeFileSync(join(dir, 'receipt.json'), receipt);
  writeFileSync(join(dir, 'manifest.json'), serializeBuildManifest(sampleManifest()));
  writeFileSync(join(dir, 'root.pem'), ca.rootPem);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Project-relative paths of the loaded project files; npm packages by their URL. */
function loaded(r: TracedRun): { project: string[]; packages: string[] } {
  const files = r.modules.filter((u) => u.startsWith('file:')).map((u) => fileURLToPath(u));
  return {
    project: files.filter((f) => f.startsWith(REPO) && !f.includes('/node_modules/')).map((f) => f.slice(REPO.length)),
    packages: files.filter((f) => f.includes('/node_modules/')),
  };
}

function expectVerifierOnly(r: TracedRun): void {
  const { project, packages } = loaded(r);
  expect(packages).toEqual([]);
  expect(project.filter((f) => /^(simulator|host|enclave|build|reproducible|policy)\//.test(f))).toEqual([]);
  expect(project.filter((f) => f !== 'bin/attested-pack' && !f.endsWith('.js'))).toEqual([]);
}

describe('lazy command loading (compiled CLI)', () => {
  it('--help loads the dispatcher and the registry, no command module', async () => {
    const r = await runTraced(['--help'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('verify receipt');
    const { project, packages } = loaded(r);
    expect(packages).toEqual([]);
    expect(project.filter((f) => f.startsWith('cli/commands/'))).toEqual(['cli/commands/index.js']);
  });

  it('verify receipt loads the verifier and its command only: no npm package, no simulator, AWS SDK or fastify', async () => {
    const r = await runTraced(['verify', 'receipt', 'receipt.json', '--manifest', 'manifest.json', '--root', 'root.pem', '--json'], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { ok: boolean }).ok).toBe(true);
    expectVerifierOnly(r);
    const { project } = loaded(r);
    expect(project).toContain('cli/commands/verify-receipt.js');
    expect(project.filter((f) => f.startsWith('cli/commands/') && f !== 'cli/commands/index.js').sort()).toEqual(['cli/commands/verify-attestation.js', 'cli/commands/verify-receipt.js']);
  });

  it('verify attestation on a real document loads no npm package either', async () => {
    const r = await runTraced(['verify', 'attestation', NITRO_DOC, '--at', 'document', '--no-pcr-check', '--json'], dir);
    expect(r.code).toBe(0);
    expectVerifierOnly(r);
  });

  it('the trace sees npm packages when a command does load them (the hook works)', async () => {
    const r = await runTraced(['host', '--help'], dir);
    expect(r.code).toBe(0);
    expect(loaded(r).packages.some((p) => p.includes('/node_modules/fastify/'))).toBe(true);
  });
});
