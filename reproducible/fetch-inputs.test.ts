// A fresh machine may have empty or stale apt lists: the build refreshes them once (as
// root) and tries again, and still refuses a .deb whose digest is not the pinned one.
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchDeb } from './fetch-inputs.ts';
import { BuildError } from '../build/errors.ts';
import { codeOf } from '../test/error-codes.ts';

const savedPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = savedPath;
});

/** A fake apt-get: `download` fails until `update` has run, then writes a (wrong) .deb. */
function fakeAptGet(dir: string): string {
  const log = join(dir, 'calls.log');
  const script = join(dir, 'apt-get');
  writeFileSync(
    script,
    `#!/bin/sh
echo "$*" >> "${log}"
case "$1" in
  update) touch "${dir}/updated" ;;
  download)
    if [ ! -f "${dir}/updated" ]; then echo "E: Can't find a source to download version '$2'" >&2; exit 100; fi
    echo fake > "$(echo "$2" | cut -d= -f1)_1_amd64.deb" ;;
esac
`,
  );
  chmodSync(script, 0o755);
  return log;
}

describe('fetching pinned Debian packages', () => {
  it('refreshes empty apt lists once and retries, then still checks the pinned digest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fake-apt-'));
    try {
      const log = fakeAptGet(dir);
      process.env.PATH = `${dir}:${savedPath ?? ''}`;
      const progress: string[] = [];
      const deb = { package: 'socat', version: '1.7.4.4-2', sha256: 'a'.repeat(64), use: 'rootfs' as const, files: [] };
      const code = codeOf(() => fetchDeb(deb, join(dir, 'cache'), (m) => progress.push(m)), BuildError);
      const calls = readFileSync(log, 'utf8').trim().split('\n');
      if (process.getuid?.() === 0) {
        expect(calls).toEqual(['download -q socat=1.7.4.4-2', 'update -qq', 'download -q socat=1.7.4.4-2']);
        expect(progress.some((m) => m.includes('apt-get update'))).toBe(true);
        expect(code).toBe('INPUT_DIGEST_MISMATCH');
      } else {
        expect(calls).toEqual(['download -q socat=1.7.4.4-2']);
        expect(code).toBe('INPUT_UNAVAILABLE');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
