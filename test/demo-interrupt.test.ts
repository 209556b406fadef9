// Issue 14 item 14: Ctrl-C (SIGINT) or SIGTERM during `attested-pack demo` stops every
// process the demo started and removes the work directory it created, and says so.
import { describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../bin/attested-pack', import.meta.url));

/** Processes whose command line names `text` (the demo's children all name its work dir). */
function processesNaming(text: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', text], { encoding: 'utf8' }).split('\n').filter((l) => l.trim() !== '' && !l.includes('pgrep'));
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

function interruptDemo(signal: NodeJS.Signals): Promise<{ code: number | null; stderr: string; workDir: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'demo', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let workDir = '';
    let sent = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`demo did not reach step 3 in time:\n${stderr}`));
    }, 180_000);
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      workDir ||= /work directory: (\S+)/.exec(stderr)?.[1] ?? '';
      // Step 3 builds the image: by then the KMS emulator runs as a child process.
      if (!sent && stderr.includes('[3/12]')) {
        sent = true;
        child.kill(signal);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, workDir });
    });
  });
}

describe('attested-pack demo, interrupted', () => {
  for (const [signal, exit] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal}: stops every child, removes its work directory, exits ${exit}`, async () => {
      const r = await interruptDemo(signal);
      expect(r.code, r.stderr).toBe(exit);
      expect(r.workDir).not.toBe('');
      expect(r.stderr).toContain('stopping every demo process');
      expect(r.stderr).toContain('work directory removed');
      expect(existsSync(r.workDir)).toBe(false);
      expect(processesNaming(r.workDir)).toEqual([]);
    }, 240_000);
  }
});
