// The header lines of a commit object (gitformat-commit / git fsck's fsck_commit): `tree`,
// zero or more `parent`, `author`, `committer`, then optional extra headers (`encoding`,
// `gpgsig`, `mergetag`, … with continuation lines starting with a space), a blank line and
// the message. We need the committer time (commit-age policy) and refuse anything git fsck
// would call a bad date or a missing/duplicated ident line.
import { gitFail } from './errors.ts';
import { ID_BYTES, type GitObjectFormat } from './object.ts';

export interface CommitIdent {
  /** "Name <email>" exactly as written. */
  ident: string;
  /** Unix seconds. */
  time: number;
  /** "+hhmm" / "-hhmm". */
  tz: string;
}

export interface CommitHeaders {
  tree: string;
  parents: string[];
  author: CommitIdent;
  committer: CommitIdent;
}

/** Git's timestamps are unsigned and fsck refuses values that overflow; we cap at 2^53-1. */
const IDENT = /^([^<>\n]*<[^<>\n]*>) (0|[1-9][0-9]{0,15}) ([+-][0-9]{4})$/;
const MAX_HEADER_BYTES = 64 * 1024;

function parseIdent(value: string, what: string): CommitIdent {
  const m = IDENT.exec(value);
  if (m === null) gitFail('GIT_MALFORMED', `commit ${what} line is not "<name> <<email>> <unix seconds> <+hhmm>"`);
  const time = Number(m[2]);
  if (!Number.isSafeInteger(time)) gitFail('GIT_MALFORMED', `commit ${what} time is out of range`);
  const tz = m[3] as string;
  if (Number(tz.slice(3)) > 59) gitFail('GIT_MALFORMED', `commit ${what} time zone ${tz} is not a valid offset`);
  return { ident: m[1] as string, time, tz };
}

/** Parse the headers of a commit object's content (after the loose-object header). */
export function parseCommitHeaders(content: Uint8Array, format: GitObjectFormat): CommitHeaders {
  const end = Buffer.from(content.subarray(0, MAX_HEADER_BYTES + 2)).indexOf('\n\n');
  const headerEnd = end < 0 ? (content.length <= MAX_HEADER_BYTES && content[content.length - 1] === 0x0a ? content.length - 1 : -1) : end;
  if (headerEnd < 0) gitFail('GIT_MALFORMED', 'commit headers are unterminated or longer than 64 KiB');
  const lines = Buffer.from(content.subarray(0, headerEnd)).toString('utf8').split('\n');
  const id = new RegExp(`^[0-9a-f]{${ID_BYTES[format] * 2}}$`);
  let i = 0;
  const next = (name: string): string | null => {
    const line = lines[i];
    if (line === undefined || !line.startsWith(`${name} `)) return null;
    i++;
    return line.slice(name.length + 1);
  };
  const tree = next('tree');
  if (tree === null || !id.test(tree)) gitFail('GIT_MALFORMED', `commit does not start with 'tree <${format} id>'`);
  const parents: string[] = [];
  for (let p = next('parent'); p !== null; p = next('parent')) {
    if (!id.test(p)) gitFail('GIT_MALFORMED', 'commit parent is not an object id');
    parents.push(p);
  }
  const author = next('author');
  if (author === null) gitFail('GIT_MALFORMED', 'commit has no author line after tree/parent');
  const committer = next('committer');
  if (committer === null) gitFail('GIT_MALFORMED', 'commit has no committer line after author');
  // Extra headers may follow, but never a second tree/parent/author/committer.
  for (const line of lines.slice(i)) {
    if (/^(tree|parent|author|committer) /.test(line)) gitFail('GIT_MALFORMED', `commit repeats or misplaces a '${line.split(' ')[0]}' header`);
  }
  return { tree, parents, author: parseIdent(author, 'author'), committer: parseIdent(committer, 'committer') };
}
