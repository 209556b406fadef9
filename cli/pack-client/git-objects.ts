// Client side of "commit → inputs": read from a local repository exactly the raw objects
// the enclave needs to recompute the commit id and reach the requested paths — the commit,
// every tree on the way to each path, the blobs at those paths — with one long-lived
// `git cat-file --batch`. Paths that do not exist are fine: the trees sent prove absence.
import { spawn, spawnSync } from 'node:child_process';
import type { GitObjectFormat } from '../../enclave/protocol.ts';
import { commitTreeId, encodeLooseObject, parseTree, splitRepoPath, type GitObjectType } from '../../enclave/git/index.ts';

export interface CollectedObjects {
  commit: string;
  objectFormat: GitObjectFormat;
  /** Loose-object bytes `<type> <len>\0<content>`, commit first. */
  objects: Uint8Array[];
  /** Path → blob id, or null when the commit has no file at that path. */
  files: Map<string, string | null>;
}

export class GitCollectError extends Error {
  override readonly name = 'GitCollectError';
}

function git(repoDir: string, args: string[]): string {
  const r = spawnSync('git', args, { cwd: repoDir, encoding: 'utf8' });
  if (r.error !== undefined) throw new GitCollectError(`cannot run git: ${r.error.message}`);
  if (r.status !== 0) throw new GitCollectError(`git ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** `git cat-file --batch` as an async object reader. */
class CatFile {
  readonly #proc;
  #buffer = Buffer.alloc(0);
  #waiters: Array<() => void> = [];
  #ended = false;
  #stderr = '';

  constructor(repoDir: string) {
    this.#proc = spawn('git', ['cat-file', '--batch'], { cwd: repoDir, stdio: ['pipe', 'pipe', 'pipe'] });
    this.#proc.stdout.on('data', (c: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, c]);
      this.#wake();
    });
    this.#proc.stderr.on('data', (c: Buffer) => (this.#stderr += c.toString()));
    this.#proc.on('close', () => {
      this.#ended = true;
      this.#wake();
    });
    this.#proc.on('error', () => {
      this.#ended = true;
      this.#wake();
    });
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  async #need(n: number): Promise<void> {
    while (this.#buffer.length < n) {
      if (this.#ended) throw new GitCollectError(`git cat-file --batch ended early ${this.#stderr.trim()}`);
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  async read(id: string): Promise<{ type: GitObjectType; content: Buffer }> {
    this.#proc.stdin.write(`${id}\n`);
    for (;;) {
      const nl = this.#buffer.indexOf(0x0a);
      if (nl >= 0) break;
      await this.#need(this.#buffer.length + 1);
    }
    const nl = this.#buffer.indexOf(0x0a);
    const header = this.#buffer.toString('utf8', 0, nl);
    const m = /^([0-9a-f]+) (commit|tree|blob|tag) (\d+)$/.exec(header);
    if (m === null) {
      this.#buffer = this.#buffer.subarray(nl + 1);
      throw new GitCollectError(`git object ${id}: ${header}`);
    }
    const size = Number(m[3]);
    await this.#need(nl + 1 + size + 1);
    const content = Buffer.from(this.#buffer.subarray(nl + 1, nl + 1 + size));
    this.#buffer = this.#buffer.subarray(nl + 1 + size + 1);
    return { type: m[2] as GitObjectType, content };
  }

  close(): void {
    this.#proc.stdin.end();
  }
}

export interface CollectOptions {
  repoDir: string;
  /** Any revision git understands; default HEAD. */
  rev?: string;
  /** Repository-relative file paths the enclave will read. */
  paths: string[];
}

export async function collectGitObjects(opts: CollectOptions): Promise<CollectedObjects> {
  const repoDir = opts.repoDir;
  const format = git(repoDir, ['rev-parse', '--show-object-format']);
  if (format !== 'sha1' && format !== 'sha256') throw new GitCollectError(`unsupported git object format '${format}'`);
  const commit = git(repoDir, ['rev-parse', '--verify', '--end-of-options', `${opts.rev ?? 'HEAD'}^{commit}`]);
  const cat = new CatFile(repoDir);
  const seen = new Set<string>();
  const objects: Uint8Array[] = [];
  const files = new Map<string, string | null>();
  const trees = new Map<string, ReturnType<typeof parseTree>>();
  const add = async (id: string, type: GitObjectType): Promise<Buffer> => {
    const obj = await cat.read(id);
    if (obj.type !== type) throw new GitCollectError(`git object ${id} is a ${obj.type}, expected ${type}`);
    if (!seen.has(id)) {
      seen.add(id);
      objects.push(encodeLooseObject(obj.type, obj.content));
    }
    return obj.content;
  };
  const tree = async (id: string) => {
    let t = trees.get(id);
    if (t === undefined) {
      t = parseTree(await add(id, 'tree'), format);
      trees.set(id, t);
    }
    return t;
  };
  try {
    const rootTree = commitTreeId(await add(commit, 'commit'), format);
    for (const path of opts.paths) {
      const parts = splitRepoPath(path);
      let treeId = rootTree;
      let blob: string | null = null;
      for (let i = 0; i < parts.length; i++) {
        const entry = (await tree(treeId)).find((e) => e.name === parts[i]);
        if (entry === undefined) break;
        if (i === parts.length - 1) {
          if (entry.kind !== 'file' && entry.kind !== 'executable') throw new GitCollectError(`'${path}' is a ${entry.kind} in ${commit}, not a file`);
          await add(entry.id, 'blob');
          blob = entry.id;
        } else if (entry.kind === 'tree') {
          treeId = entry.id;
        } else {
          break;
        }
      }
      files.set(path, blob);
    }
  } finally {
    cat.close();
  }
  return { commit, objectFormat: format, objects, files };
}

/** Read one file's bytes at a revision (for clef.yaml, to learn which other paths to send). */
export function readFileAt(repoDir: string, rev: string, path: string): Buffer | null {
  splitRepoPath(path);
  const r = spawnSync('git', ['cat-file', 'blob', `${rev}:${path}`], { cwd: repoDir });
  if (r.status !== 0) return null;
  return r.stdout;
}
