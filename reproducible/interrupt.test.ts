import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installInterruptCleanup, keepAfterInterrupt, removeOnInterrupt, removeStaleTemps } from './interrupt.ts';

/** The PID of a process that has exited (spawnSync waits for it). */
function deadPid(): number {
  const pid = spawnSync(process.execPath, ['-e', '0']).pid;
  if (pid === undefined) throw new Error('no pid');
  return pid;
}

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'ap-interrupt-'));
  dirs.push(d);
  return d;
};

describe('interrupt cleanup', () => {
  it('on SIGINT/SIGTERM removes the live temporaries, says what it kept, and exits 130/143', () => {
    const d = tempDir();
    const listeners = process.listenerCount('SIGINT') + process.listenerCount('SIGTERM');
    for (const [signal, exitCode] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
      const tmpFile = removeOnInterrupt(join(d, `attested-pack.eif.tmp-${process.pid}`));
      writeFileSync(tmpFile, 'partial');
      const tmpDir = removeOnInterrupt(join(d, `x.deb.d.tmp-${process.pid}`));
      mkdirSync(join(tmpDir, 'usr'), { recursive: true });
      const done = removeOnInterrupt(join(d, `done.tmp-${process.pid}`));
      keepAfterInterrupt(done); // renamed into place: not ours to remove any more
      writeFileSync(done, 'complete');
      const lines: string[] = [];
      const exits: number[] = [];
      const uninstall = installInterruptCleanup({ report: (l) => lines.push(l), kept: () => ['the download cache C'], exit: (c) => exits.push(c) });
      try {
        process.emit(signal, signal);
      } finally {
        uninstall();
      }
      expect(exits).toEqual([exitCode]);
      expect(existsSync(tmpFile)).toBe(false);
      expect(existsSync(tmpDir)).toBe(false);
      expect(existsSync(done)).toBe(true);
      expect(lines[0]).toBe(`interrupted by ${signal}: removed ${tmpFile}, ${tmpDir}`);
      expect(lines[1]).toBe('kept (complete entries only): the download cache C');
      rmSync(done);
    }
    // Uninstalled: no listener of ours remains.
    expect(process.listenerCount('SIGINT') + process.listenerCount('SIGTERM')).toBe(listeners);
  });

  it('removes the temporaries of dead builds at the next start, never a live one or a finished entry', () => {
    const d = tempDir();
    const dead = deadPid();
    const stale = [`node-runtime-abc.tmp-${dead}`, `libc6_2.36.deb.d.tmp-${dead}`, `tmp-${dead}-socat`, `attested-pack.eif.tmp-${dead}`];
    const keep = [`node-runtime-abc.tmp-${process.pid}`, 'libc6_2.36.deb.d', 'libc6_2.36.deb', 'attested-pack.eif', 'notes.tmp-x'];
    for (const n of [...stale, ...keep]) {
      if (n.includes('.d') || n.startsWith('tmp-') || n.startsWith('node-runtime')) mkdirSync(join(d, n, 'inner'), { recursive: true });
      else writeFileSync(join(d, n), 'x');
    }
    const removed = removeStaleTemps([d, join(d, 'no-such-dir')]);
    expect(removed.sort()).toEqual(stale.map((n) => join(d, n)).sort());
    expect(readdirSync(d).sort()).toEqual([...keep].sort());
  });
});
