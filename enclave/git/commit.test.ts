import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCommitHeaders } from './commit.ts';
import { GitVerificationError } from './errors.ts';

const T = 'a'.repeat(40);
const P = 'b'.repeat(40);
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const commit = (headers: string, msg = 'msg\n'): Uint8Array => enc(`${headers}\n${msg}`);
const GOOD = `tree ${T}\nparent ${P}\nauthor A U <a@example.com> 1700000000 +0100\ncommitter C O <c@example.com> 1700000123 -0530\n`;

function malformed(bytes: Uint8Array, m: RegExp, format: 'sha1' | 'sha256' = 'sha1'): void {
  try {
    parseCommitHeaders(bytes, format);
  } catch (e) {
    expect(e).toBeInstanceOf(GitVerificationError);
    expect((e as GitVerificationError).code).toBe('GIT_MALFORMED');
    expect((e as Error).message).toMatch(m);
    return;
  }
  throw new Error('expected a refusal');
}

describe('parseCommitHeaders', () => {
  it('reads tree, parents, author and committer time/zone', () => {
    const h = parseCommitHeaders(commit(GOOD), 'sha1');
    expect(h).toEqual({
      tree: T, parents: [P],
      author: { ident: 'A U <a@example.com>', time: 1700000000, tz: '+0100' },
      committer: { ident: 'C O <c@example.com>', time: 1700000123, tz: '-0530' },
    });
  });

  it('accepts extra headers (gpgsig with continuation lines) and an empty message', () => {
    const sig = 'gpgsig -----BEGIN SSH SIGNATURE-----\n U1NIU0lH\n committer X <x> 1 +0000\n -----END SSH SIGNATURE-----\n';
    expect(parseCommitHeaders(commit(GOOD + sig), 'sha1').committer.time).toBe(1700000123);
    expect(parseCommitHeaders(enc(`${GOOD}\n`), 'sha1').parents).toEqual([P]);
  });

  it('reads a real commit made by git (sha256 repository)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-commit-'));
    try {
      const git = (...args: string[]): string => execFileSync('git', ['-C', dir, ...args], {
        encoding: 'utf8',
        env: { ...process.env, GIT_AUTHOR_DATE: '1700000000 +0200', GIT_COMMITTER_DATE: '1700000999 +0200', GIT_AUTHOR_NAME: 'a', GIT_AUTHOR_EMAIL: 'a@x', GIT_COMMITTER_NAME: 'c', GIT_COMMITTER_EMAIL: 'c@x', GIT_CONFIG_NOSYSTEM: '1', HOME: dir },
      });
      git('init', '-q', '--object-format=sha256');
      git('commit', '-q', '--allow-empty', '-m', 'x');
      const raw = execFileSync('git', ['-C', dir, 'cat-file', 'commit', 'HEAD']);
      const h = parseCommitHeaders(raw, 'sha256');
      expect(h.committer).toEqual({ ident: 'c <c@x>', time: 1700000999, tz: '+0200' });
      expect(h.tree).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses malformed headers', () => {
    malformed(commit(GOOD.replace(`tree ${T}`, 'tree xyz')), /tree/);
    malformed(commit(GOOD), /tree/, 'sha256');
    malformed(commit(GOOD.replace(`parent ${P}`, 'parent 123')), /parent is not an object id/);
    malformed(commit(GOOD.replace(/author .*\n/, '')), /no author/);
    malformed(commit(GOOD.replace(/committer .*\n/, '')), /no committer/);
    malformed(commit(GOOD.replace('1700000123 -0530', '01700000123 -0530')), /committer line/);
    malformed(commit(GOOD.replace('1700000123 -0530', '-5 -0530')), /committer line/);
    malformed(commit(GOOD.replace('1700000123 -0530', '1700000123')), /committer line/);
    malformed(commit(GOOD.replace('-0530', '+0575')), /time zone/);
    malformed(commit(GOOD.replace('1700000123', '9999999999999999')), /out of range/);
    malformed(commit(GOOD.replace('C O <c@example.com>', 'C O c@example.com')), /committer line/);
    malformed(commit(`${GOOD}committer D <d@x> 1 +0000\n`), /repeats or misplaces a 'committer'/);
    malformed(commit(`${GOOD}parent ${P}\n`), /repeats or misplaces a 'parent'/);
    malformed(enc(GOOD.slice(0, -1)), /unterminated/);
  });
});
