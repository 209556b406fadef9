// Tree objects: a sequence of `<octal mode> SP <name> NUL <raw id>` entries, the raw id
// 20 bytes (SHA-1) or 32 bytes (SHA-256). Parsed strictly, like git fsck: known modes only,
// no empty/"."/".."/".git" names, no "/" in a name, no duplicates, git's sort order — so two
// readers can never disagree about which object a path names.
import { gitFail } from './errors.ts';
import { ID_BYTES, type GitObjectFormat } from './object.ts';

export type TreeEntryKind = 'file' | 'executable' | 'symlink' | 'tree' | 'submodule';

export interface TreeEntry {
  name: string;
  mode: string;
  kind: TreeEntryKind;
  id: string;
}

const MODES: Record<string, TreeEntryKind> = {
  '100644': 'file',
  '100755': 'executable',
  '120000': 'symlink',
  '40000': 'tree',
  '160000': 'submodule',
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** git's base_name_compare: a tree sorts as if its name ended in '/'. */
function sortKey(nameBytes: Uint8Array, kind: TreeEntryKind): Buffer {
  return kind === 'tree' ? Buffer.concat([nameBytes, Buffer.from('/')]) : Buffer.from(nameBytes);
}

export function parseTree(content: Uint8Array, format: GitObjectFormat): TreeEntry[] {
  const idLen = ID_BYTES[format];
  const buf = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  const entries: TreeEntry[] = [];
  const names = new Set<string>();
  let prevKey: Buffer | undefined;
  let pos = 0;
  while (pos < buf.length) {
    const sp = buf.indexOf(0x20, pos);
    if (sp < 0 || sp - pos > 6) gitFail('GIT_MALFORMED', 'tree entry has no mode');
    const mode = buf.toString('latin1', pos, sp);
    const kind = MODES[mode];
    if (kind === undefined) gitFail('GIT_MALFORMED', `tree entry has unknown mode '${mode}'`);
    const nul = buf.indexOf(0, sp + 1);
    if (nul < 0) gitFail('GIT_MALFORMED', 'tree entry name is not NUL-terminated');
    const nameBytes = buf.subarray(sp + 1, nul);
    let name: string;
    try {
      name = utf8.decode(nameBytes);
    } catch {
      gitFail('GIT_MALFORMED', 'tree entry name is not UTF-8');
    }
    if (name === '' || name === '.' || name === '..' || name.toLowerCase() === '.git' || name.includes('/')) {
      gitFail('GIT_MALFORMED', `tree entry name '${name.slice(0, 64)}' is not allowed`);
    }
    if (nul + 1 + idLen > buf.length) gitFail('GIT_MALFORMED', `tree entry '${name.slice(0, 64)}' is truncated (${format} ids are ${idLen} bytes)`);
    const id = buf.toString('hex', nul + 1, nul + 1 + idLen);
    const key = sortKey(nameBytes, kind);
    if (prevKey !== undefined && Buffer.compare(prevKey, key) >= 0) {
      gitFail('GIT_MALFORMED', `tree entries are duplicated or out of git's order at '${name.slice(0, 64)}'`);
    }
    // A file and a directory of the same name sort apart but name the same path.
    if (names.has(name)) gitFail('GIT_MALFORMED', `tree has two entries named '${name.slice(0, 64)}'`);
    prevKey = key;
    names.add(name);
    entries.push({ name, mode, kind, id });
    pos = nul + 1 + idLen;
  }
  return entries;
}
