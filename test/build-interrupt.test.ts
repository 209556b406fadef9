// An interrupted `attested-pack build` leaves no debris: the real CLI in a child process,
// signalled mid-build (while it bundles), removes its temporaries, says what it kept and
// exits 130/143; the temporaries a killed build left earlier (dead PID) are removed when the
// build starts. Shared download cache; the build never gets as far as writing an image.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(REPO, 'bin', 'attested-pack');
const CACHE = join(REPO, '.cache', 'attested-pack');

function deadPid(): number {
  const pid = spawnSync(process.execPath, ['-e', '0']).pid;
  if (pid === undefined) throw new Error('no pid');
  return pid;
}

/** Temporary names (ours or any build's) directly in a directory. */
const temps = (dir: string, pid?: number): string[] => (existsSync(dir) ? readdirSync(dir) : []).filter((n) => (pid === undefined ? /\.tmp(-|$)|^tmp-/.test(n) : n.endsWith(`.tmp-${pid}`) || n.startsWith(`tmp-${pid}-`)));

/** Run the CLI build; send `signal` once stderr shows `when`; resolve with its exit and output. */
function buildAndSignal(args: string[], when: RegExp, signal: 'SIGINT' | 'SIGTERM'): Promise<{ code: number | null; stderr: string; pid: number; signalled: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'build', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' } });
    let stderr = '';
    let signalled = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!signalled && when.test(stderr)) {
        signalled = true;
        child.kill(signal);
      }
    });
    child.stdout.resume();
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stderr, pid: child.pid as number, signalled }));
  });
}

describe('interrupted build', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'build-interrupt-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal}: removes temporaries (its own and a killed build's), says what it kept, exits ${signal === 'SIGINT' ? 130 : 143}`, async () => {
      const out = join(work, signal, 'out');
      mkdirSync(out, { recursive: true });
      // Debris of a build that was killed outright (SIGKILL): its PID no longer runs.
      const dead = deadPid();
      const staleEif = join(out, `attested-pack.eif.tmp-${dead}`);
      writeFileSync(staleEif, 'half an image');
      const staleDir = join(CACHE, 'debs', `stale-test.deb.d.tmp-${dead}`);
      mkdirSync(join(staleDir, 'usr'), { recursive: true });

      const r = await buildAndSignal(['--dev-blobs', '--out', out, '--cache', CACHE], /bundling the enclave service/, signal);
      expect(r.signalled).toBe(true);
      expect(r.code).toBe(signal === 'SIGINT' ? 130 : 143);
      expect(r.stderr).toContain(`removed stale temporary ${staleEif}`);
      expect(r.stderr).toContain(`removed stale temporary ${staleDir}`);
      expect(r.stderr).toMatch(new RegExp(`attested-pack: interrupted by ${signal}: `));
      expect(r.stderr).toContain(`attested-pack: kept (complete entries only): the download cache ${CACHE}, ${out} as it was (no partial image)`);
      expect(existsSync(staleEif)).toBe(false);
      expect(existsSync(staleDir)).toBe(false);
      expect(readdirSync(out)).toEqual([]);
      for (const d of [CACHE, join(CACHE, 'debs')]) expect(temps(d, r.pid)).toEqual([]);
      expect(temps(out)).toEqual([]);
    }, 300_000);
  }
});
