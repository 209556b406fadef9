// A verified view of one commit: built from raw objects whose ids are computed here, it
// answers "what bytes does path P have at this commit" by walking commit → trees → blob,
// and refuses whenever an object it needs was not sent or is not what its use requires.
import { gitFail } from './errors.ts';
import { commitTreeId, parseLooseObject, type GitObject, type GitObjectFormat } from './object.ts';
import { parseTree, type TreeEntry } from './tree.ts';

export const DEFAULT_MAX_OBJECT_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_TOTAL_BYTES = 32 * 1024 * 1024;
export const MAX_PATH_LENGTH = 4096;
export const MAX_PATH_DEPTH = 64;

export interface GitFile {
  path: string;
  /** Blob id. */
  id: string;
  mode: string;
  content: Uint8Array;
}

export interface GitSnapshot {
  /** The commit id, computed from the commit object's bytes. */
  readonly commit: string;
  readonly format: GitObjectFormat;
  /** Root tree id. */
  readonly tree: string;
  /** The commit object's content (what `git cat-file commit` prints), verified by its id. */
  readonly commitContent: Uint8Array;
  /**
   * The file at `path`, or null when the commit's tree has no such path. Throws
   * GitVerificationError when an object on the way was not sent (GIT_OBJECT_MISSING) or
   * the path names a directory, symlink or submodule (GIT_WRONG_TYPE).
   */
  readFile(path: string): GitFile | null;
  /** Entries of the directory at `path` ('' = root), or null when there is no such directory. */
  listDirectory(path: string): TreeEntry[] | null;
}

export interface OpenCommitOptions {
  objects: readonly Uint8Array[];
  format: GitObjectFormat;
  /** The commit the sender claims; refused unless a sent commit object hashes to it. */
  commit: string;
  maxObjectBytes?: number;
  maxTotalBytes?: number;
}

/** Split and check a repository-relative path (no absolute, empty, '.', '..' or '.git' parts). */
export function splitRepoPath(path: string): string[] {
  if (path === '' ) return [];
  if (path.length > MAX_PATH_LENGTH) gitFail('GIT_PATH_INVALID', `path is longer than ${MAX_PATH_LENGTH} characters`);
  const parts = path.split('/');
  if (parts.length > MAX_PATH_DEPTH) gitFail('GIT_PATH_INVALID', `path is deeper than ${MAX_PATH_DEPTH} levels`);
  for (const p of parts) {
    if (p === '' || p === '.' || p === '..' || p.toLowerCase() === '.git' || p.includes('\0') || p.includes('\\')) {
      gitFail('GIT_PATH_INVALID', `path '${path.slice(0, 200)}' is not a plain relative path`);
    }
  }
  return parts;
}

export function openCommit(opts: OpenCommitOptions): GitSnapshot {
  const { format } = opts;
  const maxObjectBytes = opts.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES;
  const maxTotal = opts.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES;
  const hexLen = format === 'sha1' ? 40 : 64;
  if (!new RegExp(`^[0-9a-f]{${hexLen}}$`).test(opts.commit)) gitFail('GIT_MALFORMED', `commit id must be ${hexLen} lowercase hex digits for ${format}`);

  let total = 0;
  const byId = new Map<string, GitObject>();
  for (const raw of opts.objects) {
    total += raw.length;
    if (total > maxTotal) gitFail('GIT_TOO_LARGE', `git objects exceed ${maxTotal} bytes in total`);
    const obj = parseLooseObject(raw, format, maxObjectBytes);
    byId.set(obj.id, obj);
  }

  const get = (id: string, type: GitObject['type'], what: string): GitObject => {
    const obj = byId.get(id);
    if (obj === undefined) {
      gitFail('GIT_OBJECT_MISSING', `${what} ${id} was not sent (or a sent object was modified and now hashes to another id)`);
    }
    if (obj.type !== type) gitFail('GIT_WRONG_TYPE', `${what} ${id} is a ${obj.type}, not a ${type}`);
    return obj;
  };

  const commitObj = byId.get(opts.commit);
  if (commitObj === undefined) {
    const sent = [...byId.values()].filter((o) => o.type === 'commit').map((o) => o.id);
    gitFail(
      sent.length > 0 ? 'GIT_COMMIT_MISMATCH' : 'GIT_OBJECT_MISSING',
      sent.length > 0
        ? `the commit objects sent hash to ${sent.slice(0, 3).join(', ')}, not to the requested commit ${opts.commit}`
        : `commit ${opts.commit} was not sent`,
    );
  }
  if (commitObj.type !== 'commit') gitFail('GIT_WRONG_TYPE', `${opts.commit} is a ${commitObj.type}, not a commit`);
  const rootTree = commitTreeId(commitObj.content, format);

  const treeCache = new Map<string, TreeEntry[]>();
  const readTree = (id: string, where: string): TreeEntry[] => {
    let entries = treeCache.get(id);
    if (entries === undefined) {
      entries = parseTree(get(id, 'tree', `tree of '${where}'`).content, format);
      treeCache.set(id, entries);
    }
    return entries;
  };

  /** Walk to the entry at `parts`; null if some component does not exist. */
  const resolve = (parts: string[]): { entry: TreeEntry | null; treeId: string } | null => {
    let treeId = rootTree;
    for (let i = 0; i < parts.length; i++) {
      const where = parts.slice(0, i).join('/') || '/';
      const entry = readTree(treeId, where).find((e) => e.name === parts[i]);
      if (entry === undefined) return null;
      if (i === parts.length - 1) return { entry, treeId };
      if (entry.kind !== 'tree') {
        // Following a symlink or submodule would leave the verified tree.
        gitFail('GIT_WRONG_TYPE', `'${parts.slice(0, i + 1).join('/')}' is a ${entry.kind}, not a directory`);
      }
      treeId = entry.id;
    }
    return { entry: null, treeId };
  };

  return {
    commit: commitObj.id,
    format,
    tree: rootTree,
    commitContent: commitObj.content,
    readFile(path) {
      const parts = splitRepoPath(path);
      if (parts.length === 0) gitFail('GIT_PATH_INVALID', 'an empty path names no file');
      const found = resolve(parts);
      if (found === null || found.entry === null) return null;
      const { entry } = found;
      if (entry.kind !== 'file' && entry.kind !== 'executable') gitFail('GIT_WRONG_TYPE', `'${path}' is a ${entry.kind}, not a regular file`);
      return { path, id: entry.id, mode: entry.mode, content: get(entry.id, 'blob', `blob of '${path}'`).content };
    },
    listDirectory(path) {
      const parts = splitRepoPath(path);
      const found = resolve(parts);
      if (found === null) return null;
      if (found.entry === null) return readTree(found.treeId, '/');
      if (found.entry.kind !== 'tree') gitFail('GIT_WRONG_TYPE', `'${path}' is a ${found.entry.kind}, not a directory`);
      return readTree(found.entry.id, path);
    },
  };
}
