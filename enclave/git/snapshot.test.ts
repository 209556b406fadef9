// Git object verification against real git, for SHA-1 and SHA-256 repositories: ids and
// contents come from `git rev-parse` / `git cat-file`, never from the code under test.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectGitObjects } from '../../cli/pack-client/git-objects.ts';
import { git, gitBytes } from '../../test/enclave-support.ts';
import { GitVerificationError, encodeLooseObject, hashObject, openCommit, type GitObjectFormat } from './index.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function makeRepo(format: GitObjectFormat): string {
  const dir = mkdtempSync(join(tmpdir(), `ap-git-${format}-`));
  dirs.push(dir);
  git(dir, 'init', '-q', `--object-format=${format}`, '-b', 'main');
  writeFileSync(join(dir, 'clef.yaml'), 'version: 1\nfile_pattern: secrets/{namespace}/{environment}.enc.yaml\n');
  mkdirSync(join(dir, 'secrets', 'api'), { recursive: true });
  mkdirSync(join(dir, 'secrets', 'web'), { recursive: true });
  writeFileSync(join(dir, 'secrets', 'api', 'dev.enc.yaml'), 'a: ENC[AES256_GCM,data:xx]\n');
  writeFileSync(join(dir, 'secrets', 'web', 'dev.enc.yaml'), 'b: 1\n');
  writeFileSync(join(dir, 'secrets', 'api.txt'), 'sorts between api/ entries in byte order\n');
  symlinkSync('secrets', join(dir, 'link'));
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'first');
  writeFileSync(join(dir, 'secrets', 'api', 'dev.enc.yaml'), 'a: ENC[AES256_GCM,data:yy]\n');
  git(dir, 'commit', '-q', '-am', 'second');
  return dir;
}

const PATHS = ['clef.yaml', 'secrets/api/dev.enc.yaml', 'secrets/api/prod.enc.yaml', 'secrets/nope/dev.enc.yaml'];

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof GitVerificationError) return e.code;
    throw e;
  }
  throw new Error('expected a GitVerificationError');
}

/** Replace one object (found by git's id) with other bytes. */
function swap(objects: Uint8Array[], format: GitObjectFormat, id: string, replacement: Uint8Array | null): Uint8Array[] {
  const out: Uint8Array[] = [];
  let found = false;
  for (const o of objects) {
    if (hashObject(format, o) === id) {
      found = true;
      if (replacement !== null) out.push(replacement);
    } else out.push(o);
  }
  expect(found).toBe(true);
  return out;
}

function tamper(raw: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(raw);
  copy[copy.length - 2] = (copy[copy.length - 2] ?? 0) ^ 0x01;
  return copy;
}

describe.each(['sha1', 'sha256'] as const)('git objects (%s)', (format) => {
  const repo = makeRepo(format);
  const head = git(repo, 'rev-parse', 'HEAD');
  const idLen = format === 'sha1' ? 40 : 64;

  it('computes the commit id git computes and reads the files git reads', async () => {
    const c = await collectGitObjects({ repoDir: repo, paths: PATHS });
    expect(c.objectFormat).toBe(format);
    expect(c.commit).toBe(head);
    expect(head).toHaveLength(idLen);
    const snap = openCommit({ objects: c.objects, format, commit: head });
    expect(snap.commit).toBe(head);
    expect(snap.tree).toBe(git(repo, 'rev-parse', 'HEAD^{tree}'));
    for (const p of ['clef.yaml', 'secrets/api/dev.enc.yaml']) {
      const f = snap.readFile(p);
      expect(f?.id).toBe(git(repo, 'rev-parse', `HEAD:${p}`));
      expect(Buffer.from(f?.content ?? []).equals(gitBytes(repo, 'cat-file', 'blob', `HEAD:${p}`))).toBe(true);
    }
    // Absent paths are provably absent (their trees were sent), not errors.
    expect(snap.readFile('secrets/api/prod.enc.yaml')).toBeNull();
    expect(snap.readFile('secrets/nope/dev.enc.yaml')).toBeNull();
    expect(snap.listDirectory('secrets')?.map((e) => e.name)).toEqual(git(repo, 'ls-tree', '--name-only', 'HEAD:secrets').split('\n'));
    expect(c.files.get('secrets/api/prod.enc.yaml')).toBeNull();
  });

  it('refuses a tampered blob, tree or commit', async () => {
    const c = await collectGitObjects({ repoDir: repo, paths: PATHS });
    const blobId = git(repo, 'rev-parse', 'HEAD:secrets/api/dev.enc.yaml');
    const blobRaw = c.objects.find((o) => hashObject(format, o) === blobId) as Uint8Array;
    const s1 = openCommit({ objects: swap(c.objects, format, blobId, tamper(blobRaw)), format, commit: head });
    expect(code(() => s1.readFile('secrets/api/dev.enc.yaml'))).toBe('GIT_OBJECT_MISSING');
    expect(s1.readFile('clef.yaml')).not.toBeNull();

    const treeId = git(repo, 'rev-parse', 'HEAD:secrets/api');
    const treeRaw = c.objects.find((o) => hashObject(format, o) === treeId) as Uint8Array;
    const s2 = openCommit({ objects: swap(c.objects, format, treeId, tamper(treeRaw)), format, commit: head });
    expect(code(() => s2.readFile('secrets/api/dev.enc.yaml'))).toBe('GIT_OBJECT_MISSING');

    const commitRaw = c.objects[0] as Uint8Array;
    expect(code(() => openCommit({ objects: swap(c.objects, format, head, tamper(commitRaw)), format, commit: head }))).toBe('GIT_COMMIT_MISMATCH');
  });

  it('refuses missing objects', async () => {
    const c = await collectGitObjects({ repoDir: repo, paths: PATHS });
    const blobId = git(repo, 'rev-parse', 'HEAD:clef.yaml');
    const s = openCommit({ objects: swap(c.objects, format, blobId, null), format, commit: head });
    expect(code(() => s.readFile('clef.yaml'))).toBe('GIT_OBJECT_MISSING');
    const rootTree = git(repo, 'rev-parse', 'HEAD^{tree}');
    const s2 = openCommit({ objects: swap(c.objects, format, rootTree, null), format, commit: head });
    expect(code(() => s2.readFile('clef.yaml'))).toBe('GIT_OBJECT_MISSING');
    expect(code(() => openCommit({ objects: c.objects.slice(1), format, commit: head }))).toBe('GIT_OBJECT_MISSING');
  });

  it('refuses a commit id that the objects do not hash to (wrong commit claimed)', async () => {
    const c = await collectGitObjects({ repoDir: repo, paths: PATHS });
    const parent = git(repo, 'rev-parse', 'HEAD~1');
    expect(code(() => openCommit({ objects: c.objects, format, commit: parent }))).toBe('GIT_COMMIT_MISMATCH');
    // and the older commit's own objects open as the older commit, with the older content
    const old = await collectGitObjects({ repoDir: repo, rev: 'HEAD~1', paths: PATHS });
    const s = openCommit({ objects: old.objects, format, commit: parent });
    expect(Buffer.from(s.readFile('secrets/api/dev.enc.yaml')?.content ?? []).toString()).toContain('data:xx');
  });

  it('refuses objects of the wrong type', async () => {
    const c = await collectGitObjects({ repoDir: repo, paths: PATHS });
    const blobId = git(repo, 'rev-parse', 'HEAD:clef.yaml');
    expect(code(() => openCommit({ objects: c.objects, format, commit: blobId }))).toBe('GIT_WRONG_TYPE');
    const s = openCommit({ objects: c.objects, format, commit: head });
    expect(code(() => s.readFile('secrets/api'))).toBe('GIT_WRONG_TYPE');
    expect(code(() => s.readFile('clef.yaml/x'))).toBe('GIT_WRONG_TYPE');
    // A symlink would lead outside the verified tree.
    expect(code(() => s.readFile('link/api/dev.enc.yaml'))).toBe('GIT_WRONG_TYPE');
    expect(code(() => s.readFile('link'))).toBe('GIT_WRONG_TYPE');
  });

  it('refuses path traversal and non-plain paths', async () => {
    const c = await collectGitObjects({ repoDir: repo, paths: PATHS });
    const s = openCommit({ objects: c.objects, format, commit: head });
    for (const p of ['../clef.yaml', '/clef.yaml', 'secrets//api/dev.enc.yaml', './clef.yaml', 'secrets/../clef.yaml', '.git/config', 'a\\b', '']) {
      expect(code(() => s.readFile(p))).toBe('GIT_PATH_INVALID');
    }
  });

  it('refuses oversize input', async () => {
    const c = await collectGitObjects({ repoDir: repo, paths: PATHS });
    expect(code(() => openCommit({ objects: c.objects, format, commit: head, maxTotalBytes: 100 }))).toBe('GIT_TOO_LARGE');
    expect(code(() => openCommit({ objects: c.objects, format, commit: head, maxObjectBytes: 10 }))).toBe('GIT_TOO_LARGE');
  });

  it('refuses objects read with the other object format', async () => {
    const c = await collectGitObjects({ repoDir: repo, paths: PATHS });
    const other = format === 'sha1' ? 'sha256' : 'sha1';
    const fake = format === 'sha1' ? head.padEnd(64, '0') : head.slice(0, 40);
    const r = code(() => openCommit({ objects: c.objects, format: other, commit: fake }).readFile('clef.yaml'));
    expect(['GIT_COMMIT_MISMATCH', 'GIT_MALFORMED', 'GIT_OBJECT_MISSING']).toContain(r);
  });
});

describe('malformed git objects', () => {
  it('refuses bad headers and length mismatches', () => {
    const cases = [Buffer.from('blob 5\0abc'), Buffer.from('blob 05\0abcde'), Buffer.from('blobby 1\0a'), Buffer.from('blob 1 a'), Buffer.from('blob -1\0')];
    for (const raw of cases) {
      const id = hashObject('sha1', raw);
      expect(code(() => openCommit({ objects: [raw], format: 'sha1', commit: id }))).toBe('GIT_MALFORMED');
    }
  });

  it('refuses trees with duplicate, unsorted or dangerous entries', () => {
    const blob = encodeLooseObject('blob', Buffer.from('x'));
    const blobId = Buffer.from(hashObject('sha1', blob), 'hex');
    const entry = (mode: string, name: string) => Buffer.concat([Buffer.from(`${mode} ${name}\0`), blobId]);
    const trees = [
      Buffer.concat([entry('100644', 'a'), entry('100644', 'a')]),
      Buffer.concat([entry('100644', 'b'), entry('100644', 'a')]),
      Buffer.concat([entry('100644', 'a'), entry('40000', 'a')]),
      entry('100644', '..'),
      entry('100644', '.GIT'),
      entry('100600', 'a'),
      Buffer.concat([entry('100644', 'a'), Buffer.from('100644 b\0abc')]),
    ];
    for (const t of trees) {
      const tree = encodeLooseObject('tree', t);
      const commit = encodeLooseObject('commit', Buffer.from(`tree ${hashObject('sha1', tree)}\nauthor t <t> 0 +0000\ncommitter t <t> 0 +0000\n\nm\n`));
      const s = openCommit({ objects: [commit, tree, blob], format: 'sha1', commit: hashObject('sha1', commit) });
      expect(code(() => s.readFile('a'))).toBe('GIT_MALFORMED');
    }
  });

  it('refuses a commit without a leading tree line', () => {
    const commit = encodeLooseObject('commit', Buffer.from('parent 0000000000000000000000000000000000000000\n'));
    expect(code(() => openCommit({ objects: [commit], format: 'sha1', commit: hashObject('sha1', commit) }))).toBe('GIT_MALFORMED');
  });
});
