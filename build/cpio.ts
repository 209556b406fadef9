// Deterministic cpio "newc" (SVR4, no CRC) archives: the format of every EIF ramdisk and
// of Linux initramfs. Determinism is the whole point: entries are sorted bytewise by path,
// parent directories are added, and every header field that a filesystem would leak
// (mtime, uid/gid, inode, device numbers, umask-dependent modes) is fixed by us.
// Layout (kernel Documentation/driver-api/early-userspace/buffer-format.rst): "070701",
// 13 eight-digit hex fields, NUL-terminated name padded to 4 bytes, data padded to 4 bytes;
// the archive ends with the entry "TRAILER!!!".
import { buildFail } from './errors.ts';

export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; data: Uint8Array; mode?: number }
  | { type: 'symlink'; path: string; target: string };

export interface CpioOptions {
  /** Modification time of every entry (SOURCE_DATE_EPOCH). */
  mtime: number;
}

/** One entry as read back from an archive. */
export interface CpioRecord {
  path: string;
  /** Full st_mode: type bits and permission bits. */
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  ino: number;
  nlink: number;
  data: Uint8Array;
}

const MAGIC = '070701';
const TRAILER = 'TRAILER!!!';
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFMT = 0o170000;
const MAX_FIELD = 0xffffffff;

export const CPIO_FILE_TYPES = { dir: S_IFDIR, file: S_IFREG, symlink: S_IFLNK } as const;

export function fileTypeOf(mode: number): 'dir' | 'file' | 'symlink' | 'other' {
  switch (mode & S_IFMT) {
    case S_IFDIR: return 'dir';
    case S_IFREG: return 'file';
    case S_IFLNK: return 'symlink';
    default: return 'other';
  }
}

function checkPath(path: string): void {
  const parts = path.split('/');
  if (path.length === 0 || path.length > 4095 || path.startsWith('/') || path.includes('\0') ||
      parts.some((p) => p === '' || p === '.' || p === '..')) {
    buildFail('CPIO_INVALID', `archive path ${JSON.stringify(path)} must be relative, normalised and without NUL`);
  }
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const pad4 = (n: number): number => (4 - (n % 4)) % 4;

function header(fields: number[], nameLength: number): string {
  // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  const all = [...fields, nameLength, 0];
  return MAGIC + all.map((v) => {
    if (!Number.isInteger(v) || v < 0 || v > MAX_FIELD) buildFail('CPIO_INVALID', `cpio field value ${v} out of range`);
    return v.toString(16).toUpperCase().padStart(8, '0');
  }).join('');
}

/**
 * Write a newc archive. Directories default to 0755 and files to 0644 (ignoring whatever
 * the source file had); parent directories are created implicitly with mode 0755.
 */
export function writeCpio(entries: readonly CpioEntry[], opts: CpioOptions): Uint8Array {
  const byPath = new Map<string, CpioEntry>();
  for (const e of entries) {
    checkPath(e.path);
    if (byPath.has(e.path)) buildFail('CPIO_INVALID', `duplicate archive path ${e.path}`);
    byPath.set(e.path, e);
  }
  for (const e of entries) {
    const parts = e.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const existing = byPath.get(parent);
      if (existing === undefined) byPath.set(parent, { type: 'dir', path: parent });
      else if (existing.type !== 'dir') buildFail('CPIO_INVALID', `${parent} is both a ${existing.type} and a parent directory`);
    }
  }
  const sorted = [...byPath.values()].sort((a, b) => compareBytes(a.path, b.path));
  const chunks: Buffer[] = [];
  let ino = 1;
  const push = (fields: number[], name: string, data: Uint8Array): void => {
    const nameBytes = Buffer.from(`${name}\0`, 'utf8');
    const head = Buffer.from(header(fields, nameBytes.length), 'ascii');
    chunks.push(head, nameBytes, Buffer.alloc(pad4(head.length + nameBytes.length)));
    if (data.length > 0) chunks.push(Buffer.from(data.buffer, data.byteOffset, data.length), Buffer.alloc(pad4(data.length)));
  };
  for (const e of sorted) {
    let mode: number;
    let data: Uint8Array;
    if (e.type === 'dir') {
      mode = S_IFDIR | ((e.mode ?? 0o755) & 0o7777);
      data = new Uint8Array(0);
    } else if (e.type === 'file') {
      mode = S_IFREG | ((e.mode ?? 0o644) & 0o7777);
      data = e.data;
    } else {
      if (e.target.length === 0 || e.target.includes('\0')) buildFail('CPIO_INVALID', `symlink ${e.path} has an invalid target`);
      mode = S_IFLNK | 0o777;
      data = Buffer.from(e.target, 'utf8');
    }
    const nlink = e.type === 'dir' ? 2 : 1;
    push([ino++, mode, 0, 0, nlink, opts.mtime, data.length, 0, 0, 0, 0], e.path, data);
  }
  push([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0], TRAILER, new Uint8Array(0));
  return Buffer.concat(chunks);
}

/** Parse a newc archive (one archive; stops at the trailer). Strict: any malformation throws CPIO_INVALID. */
export function readCpio(bytes: Uint8Array): CpioRecord[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const out: CpioRecord[] = [];
  let pos = 0;
  for (;;) {
    if (pos + 110 > buf.length) buildFail('CPIO_INVALID', `truncated cpio header at offset ${pos}`);
    const magic = buf.toString('ascii', pos, pos + 6);
    if (magic !== MAGIC) buildFail('CPIO_INVALID', `bad cpio magic ${JSON.stringify(magic)} at offset ${pos} (only newc is supported)`);
    const field = (i: number): number => {
      const text = buf.toString('ascii', pos + 6 + i * 8, pos + 14 + i * 8);
      if (!/^[0-9a-fA-F]{8}$/.test(text)) buildFail('CPIO_INVALID', `bad cpio header field at offset ${pos}`);
      return parseInt(text, 16);
    };
    const [ino, mode, uid, gid, nlink, mtime, filesize] = [0, 1, 2, 3, 4, 5, 6].map(field) as [number, number, number, number, number, number, number];
    const namesize = field(11);
    const nameStart = pos + 110;
    if (namesize === 0 || nameStart + namesize > buf.length) buildFail('CPIO_INVALID', `bad cpio name size at offset ${pos}`);
    if (buf[nameStart + namesize - 1] !== 0) buildFail('CPIO_INVALID', `cpio name is not NUL-terminated at offset ${pos}`);
    const path = buf.toString('utf8', nameStart, nameStart + namesize - 1);
    const dataStart = nameStart + namesize + pad4(110 + namesize);
    if (dataStart + filesize > buf.length) buildFail('CPIO_INVALID', `cpio entry ${path} runs past the end of the archive`);
    if (path === TRAILER) return out;
    out.push({ path, mode, uid, gid, mtime, ino, nlink, data: buf.subarray(dataStart, dataStart + filesize) });
    pos = dataStart + filesize + pad4(filesize);
  }
}
