// Git object verification for the enclave: the commit id in a receipt is computed from the
// objects CI sent, never taken on trust.
export { GitVerificationError, type GitErrorCode } from './errors.ts';
export { encodeLooseObject, hashObject, parseLooseObject, commitTreeId, type GitObject, type GitObjectFormat, type GitObjectType } from './object.ts';
export { parseTree, type TreeEntry, type TreeEntryKind } from './tree.ts';
export { parseCommitHeaders, type CommitHeaders, type CommitIdent } from './commit.ts';
export { openCommit, splitRepoPath, type GitFile, type GitSnapshot, type OpenCommitOptions } from './snapshot.ts';
