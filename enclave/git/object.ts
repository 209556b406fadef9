// Loose git objects: `<type> SP <decimal length> NUL <content>`, identified by the SHA-1
// or SHA-256 of exactly those bytes (gitformat-object-format / hash-function-transition).
// The id is always computed here; a sender never gets to name an object.
import { createHash } from 'node:crypto';
import { gitFail } from './errors.ts';
import { sha1dc } from './sha1dc.ts';

export type GitObjectFormat = 'sha1' | 'sha256';
export type GitObjectType = 'commit' | 'tree' | 'blob' | 'tag';

export interface GitObject {
  /** Lowercase hex id computed from the bytes. */
  id: string;
  type: GitObjectType;
  content: Uint8Array;
}

export const ID_BYTES: Record<GitObjectFormat, number> = { sha1: 20, sha256: 32 };
const TYPES: readonly string[] = ['commit', 'tree', 'blob', 'tag'];
/** Header: longest type (6) + space + up to 20 digits + NUL. */
const MAX_HEADER = 32;

/**
 * The object id of `raw`. sha1 ids are computed with collision detection, as git does
 * (SHA-1DC): bytes that carry one half of a SHA-1 collision attack are refused, because
 * their id could name a second, different object.
 */
export function hashObject(format: GitObjectFormat, raw: Uint8Array): string {
  if (format === 'sha256') return createHash('sha256').update(raw).digest('hex');
  const { digest, collision } = sha1dc(raw);
  if (collision) gitFail('SHA1_COLLISION', `an object (sha1 ${Buffer.from(digest).toString('hex')}) contains a SHA-1 collision attack block; git refuses it too`);
  return Buffer.from(digest).toString('hex');
}

/** Serialise content as a loose object (what `git hash-object` hashes). */
export function encodeLooseObject(type: GitObjectType, content: Uint8Array): Uint8Array {
  return Buffer.concat([Buffer.from(`${type} ${content.length}\0`, 'latin1'), content]);
}

/** Parse and hash one loose object, refusing any header that git itself would not write. */
export function parseLooseObject(raw: Uint8Array, format: GitObjectFormat, maxObjectBytes: number): GitObject {
  if (raw.length > maxObjectBytes + MAX_HEADER) gitFail('GIT_TOO_LARGE', `a git object of ${raw.length} bytes exceeds the per-object limit of ${maxObjectBytes}`);
  const nul = raw.subarray(0, MAX_HEADER).indexOf(0);
  if (nul < 0) gitFail('GIT_MALFORMED', 'git object header has no NUL terminator');
  const header = Buffer.from(raw.subarray(0, nul)).toString('latin1');
  const m = /^(commit|tree|blob|tag) (0|[1-9][0-9]{0,15})$/.exec(header);
  if (m === null || !TYPES.includes(m[1] as string)) gitFail('GIT_MALFORMED', `git object header '${header.slice(0, 32)}' is not '<type> <length>'`);
  const length = Number(m[2]);
  const content = raw.subarray(nul + 1);
  if (content.length !== length) gitFail('GIT_MALFORMED', `git object header says ${length} bytes but ${content.length} follow`);
  return { id: hashObject(format, raw), type: m[1] as GitObjectType, content };
}

/** The tree id of a commit: its first line must be `tree <hex id>` (git fsck: missingTree/badTreeSha1). */
export function commitTreeId(content: Uint8Array, format: GitObjectFormat): string {
  const hexLen = ID_BYTES[format] * 2;
  const first = Buffer.from(content.subarray(0, 5 + hexLen + 1)).toString('latin1');
  const re = new RegExp(`^tree ([0-9a-f]{${hexLen}})\\n$`);
  const m = re.exec(first);
  if (m === null) gitFail('GIT_MALFORMED', `commit does not start with 'tree <${format} id>'`);
  return m[1] as string;
}
