// Temporary files of a running build, and what happens to them when the build stops early.
// A build writes everything aside first (`<name>.tmp-<pid>`, `tmp-<pid>-<package>`) and
// renames it into place when complete, so the cache and the output directory only ever hold
// complete entries. On SIGINT/SIGTERM the CLI removes the temporaries still registered here
// and says what it kept; a build killed outright (SIGKILL, power loss) leaves its
// temporaries behind, and the next build removes those whose process is gone.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const live = new Set<string>();

/** A temporary path this process is writing: removed if the build is interrupted. */
export function removeOnInterrupt(path: string): string {
  live.add(path);
  return path;
}

/** The temporary path was renamed into place (or removed): nothing to clean any more. */
export function keepAfterInterrupt(path: string): void {
  live.delete(path);
}

/** Remove every registered temporary path now; returns those removed. */
export function removeLiveTemps(): string[] {
  const removed: string[] = [];
  for (const path of live) {
    try {
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      // Reported by its absence from the list; the next build's stale sweep retries.
    }
    live.delete(path);
  }
  return removed;
}

const SIGNAL_EXIT: Record<'SIGINT' | 'SIGTERM', number> = { SIGINT: 130, SIGTERM: 143 };

export interface InterruptOptions {
  /** One line per message (stderr). */
  report: (line: string) => void;
  /** What is kept, named in the message (cache, complete outputs). */
  kept: () => string[];
  exit: (code: number) => void;
}

/**
 * While a build runs: on SIGINT/SIGTERM remove the live temporaries, say what was removed and
 * kept, and exit 130/143. Node runs the handler between synchronous steps, so a write or an
 * extraction in progress finishes (or fails) first. Returns the uninstaller.
 */
export function installInterruptCleanup(o: InterruptOptions): () => void {
  const handler = (signal: 'SIGINT' | 'SIGTERM'): void => {
    const removed = removeLiveTemps();
    o.report(`interrupted by ${signal}: ${removed.length === 0 ? 'no temporary files were left' : `removed ${removed.join(', ')}`}`);
    const kept = o.kept();
    if (kept.length > 0) o.report(`kept (complete entries only): ${kept.join(', ')}`);
    o.exit(SIGNAL_EXIT[signal]);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** Temporary names this code writes, with the writer's PID. */
const TEMP_NAME = [/\.tmp-([0-9]{1,10})$/, /^tmp-([0-9]{1,10})-/];

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists under another user. Only ESRCH proves it is gone.
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Remove the temporaries of builds that no longer run, directly in `dirs` (not recursive).
 * A reused PID keeps its debris until that process ends: safe, never another build's files.
 */
export function removeStaleTemps(dirs: string[]): string[] {
  const removed: string[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue; // not created yet
    }
    for (const name of names) {
      const m = TEMP_NAME.map((re) => re.exec(name)).find((x) => x !== null);
      if (m === undefined || m === null) continue;
      const pid = Number(m[1]);
      if (pid <= 0 || pidAlive(pid)) continue;
      rmSync(join(dir, name), { recursive: true, force: true });
      removed.push(join(dir, name));
    }
  }
  return removed;
}
