// Reproducibility: the same source built in two checkouts under a different umask, TZ,
// locale, file mtimes and checkout path gives a byte-identical EIF (checked through
// `rebuild`, which must report a match); one changed byte in the enclave source moves
// PCR0 and PCR2 but not PCR1, `rebuild` reports the mismatch and `pcr-diff` names the file.
// Three builds in all; downloads are shared through the repository's .cache/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { main } from '../cli/main.ts';
import { buildImage } from '../reproducible/build-image.ts';
import { snapshotSources } from '../reproducible/source-snapshot.ts';
import { diffEifs } from '../build/pcr-diff.ts';
import { describeEif } from '../build/describe.ts';
import { fileTypeOf, readCpio } from '../build/cpio.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CACHE = join(REPO, '.cache', 'attested-pack');
const BUILD_TIMEOUT = 600_000;

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(argv, { stdout, stderr, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' } });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** Change one byte inside the first string literal of enclave/main.ts that survives bundling. */
function flipOneByte(checkout: string): void {
  const path = join(checkout, 'enclave', 'main.ts');
  const text = readFileSync(path, 'utf8');
  const m = /= '([a-z/.-]{6,})'/.exec(text);
  if (m === null) throw new Error('no string constant to change in enclave/main.ts');
  const at = (m.index ?? 0) + 3;
  const ch = text[at] === 'x' ? 'y' : 'x';
  writeFileSync(path, text.slice(0, at) + ch + text.slice(at + 1));
}

describe('reproducible build', () => {
  let work: string;
  let a: string;
  let b: string;
  const saved = { umask: process.umask(), tz: process.env.TZ, lc: process.env.LC_ALL };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'repro-'));
    a = join(work, 'a');
    b = join(work, 'elsewhere', 'deeper', 'checkout-b');
    await snapshotSources(REPO, a, { mtime: new Date('2001-02-03T04:05:06Z') });
    await snapshotSources(REPO, b, { mtime: new Date('2030-12-31T23:59:59Z') });
  }, BUILD_TIMEOUT);

  afterAll(() => {
    process.umask(saved.umask);
    if (saved.tz === undefined) delete process.env.TZ; else process.env.TZ = saved.tz;
    if (saved.lc === undefined) delete process.env.LC_ALL; else process.env.LC_ALL = saved.lc;
    rmSync(work, { recursive: true, force: true });
  });

  it('builds byte-identical EIFs in different conditions, and a changed byte moves PCR0 and PCR2 only', async () => {
    process.umask(0o077);
    process.env.TZ = 'Pacific/Kiritimati';
    process.env.LC_ALL = 'C';
    const stage = join(a, 'stage');
    const first = await buildImage({ sourceRoot: a, outDir: join(a, 'out'), cacheDir: CACHE, developmentBlobs: true, rootfsDir: stage });
    expect(first.manifest.blobSet.kind).toBe('development');
    expect(describeEif(first.eif).pcrs).toEqual(first.manifest.pcrs);
    // The staged root filesystem (Dockerfile.enclave's build context) is the ramdisk's rootfs/.
    const files = readCpio(first.ramdisks[1]!).filter((r) => fileTypeOf(r.mode) === 'file' && r.path.startsWith('rootfs/'));
    expect(files.length).toBeGreaterThan(10);
    for (const r of files) {
      const staged = join(stage, r.path.slice('rootfs/'.length));
      expect(Buffer.compare(readFileSync(staged), Buffer.from(r.data))).toBe(0);
      expect(statSync(staged).mode & 0o7777).toBe(r.mode & 0o7777);
    }
    const manifestPath = join(a, 'out', 'build-manifest.json');

    process.umask(0o002);
    process.env.TZ = 'America/St_Johns';
    process.env.LC_ALL = 'C.UTF-8';
    const match = await cli(['rebuild', '--manifest', manifestPath, '--source', b, '--out', join(b, 'out'), '--cache', CACHE, '--json']);
    expect(match.stderr).not.toMatch(/error/i);
    expect(match.code).toBe(0);
    const report = JSON.parse(match.stdout) as { match: boolean; checks: Array<{ what: string; ok: boolean }> };
    expect(report.match).toBe(true);
    expect(report.checks.map((c) => c.what)).toEqual(expect.arrayContaining(['PCR0', 'PCR1', 'PCR2', 'EIF sha384', 'input enclave-bundle', 'input node-runtime']));
    const second = readFileSync(join(b, 'out', 'attested-pack.eif'));
    expect(Buffer.compare(second, first.eif)).toBe(0);
    expect(readFileSync(join(b, 'out', 'build-manifest.json'), 'utf8')).toBe(first.manifestText);

    flipOneByte(b);
    const mismatch = await cli(['rebuild', '--manifest', manifestPath, '--source', b, '--out', join(b, 'changed'), '--cache', CACHE]);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stdout).toMatch(/^MISMATCH/);
    expect(mismatch.stdout).toMatch(/DIFF PCR0/);
    expect(mismatch.stdout).toMatch(/DIFF PCR2/);
    expect(mismatch.stdout).toMatch(/ok {3}PCR1/);
    expect(mismatch.stdout).toMatch(/DIFF input enclave-bundle/);
    expect(mismatch.stdout).not.toMatch(/DIFF input node-runtime/);

    const changedEif = join(b, 'changed', 'attested-pack.eif');
    const diff = diffEifs(first.eif, readFileSync(changedEif));
    expect(diff.pcrs.filter((p) => !p.equal).map((p) => p.pcr)).toEqual(['0', '2']);
    expect(diff.changes.map((c) => c.section)).toEqual(['ramdisk[1] (application)']);
    expect(diff.changes[0]?.files?.map((f) => f.path)).toEqual(['rootfs/app/enclave.mjs']);
    expect(diff.changes[0]?.files?.[0]?.fields).toContain('sha384');

    const shown = await cli(['pcr-diff', join(a, 'out', 'attested-pack.eif'), changedEif]);
    expect(shown.code).toBe(1);
    expect(shown.stdout).toMatch(/PCR1: same/);
    expect(shown.stdout).toMatch(/PCR0: DIFFERENT/);
    expect(shown.stdout).toMatch(/changed rootfs\/app\/enclave\.mjs \[.*sha384.*\]/);
    const same = await cli(['pcr-diff', join(a, 'out', 'attested-pack.eif'), join(b, 'out', 'attested-pack.eif')]);
    expect(same.code).toBe(0);
    expect(same.stdout).toMatch(/All PCRs are equal/);
  }, BUILD_TIMEOUT);
});
