// The in-memory shape of a SOPS document, mirroring sops' own TreeBranch model: ordered
// map items, lists, comments as items, and typed leaves. A leaf keeps the exact bytes
// sops feeds the MAC and the cipher (its `text`), so no float or time ever round-trips
// through a lossy JavaScript value on the way to a MAC.

/** Leaf types that appear in `ENC[...,type:<t>]`. `bytes` is recognised but refused (sops cannot decrypt it). */
export type LeafType = 'str' | 'int' | 'float' | 'bool' | 'time' | 'bytes';

export interface SopsLeaf {
  readonly kind: 'leaf';
  readonly type: LeafType;
  /** Canonical plaintext as sops' ToBytes writes it: `True`, `1.5`, `2024-01-02T00:00:00Z`. */
  readonly text: string;
  /**
   * For `str` leaves whose bytes are not UTF-8 (YAML `!!binary`, binary-format files): the
   * exact bytes, which the MAC and the cipher use; `text` is then only a lossy rendering.
   */
  readonly raw?: Uint8Array;
}

export interface SopsComment {
  readonly kind: 'comment';
  /** Comment text without the leading `#` (sops keeps the space after it). */
  readonly text: string;
}

export interface SopsNull {
  readonly kind: 'null';
}

export interface SopsList {
  readonly kind: 'list';
  readonly items: SopsNode[];
}

export type SopsMapItem = { readonly key: string; readonly value: SopsNode } | { readonly comment: SopsComment };

export interface SopsMap {
  readonly kind: 'map';
  readonly items: SopsMapItem[];
}

export type SopsNode = SopsLeaf | SopsComment | SopsNull | SopsList | SopsMap;

/** One YAML document (JSON files have exactly one). The `sops` key is never inside. */
export type SopsBranch = SopsMap;

export const NULL: SopsNull = Object.freeze({ kind: 'null' });

export function leaf(type: LeafType, text: string): SopsLeaf {
  return { kind: 'leaf', type, text };
}

export function str(text: string): SopsLeaf {
  return leaf('str', text);
}

/** Limits applied while parsing untrusted files. */
export interface SopsLimits {
  /** Largest accepted file, in bytes (default 8 MiB). */
  maxBytes: number;
  /** Deepest nesting of maps and lists (default 64). */
  maxDepth: number;
  /** Most leaves + comments + nulls in a file, after alias expansion (default 100 000). */
  maxValues: number;
  /** Most YAML alias references (default 100; the yaml package's own guard is also on). */
  maxAliasCount: number;
}

export const DEFAULT_LIMITS: SopsLimits = Object.freeze({
  maxBytes: 8 * 1024 * 1024,
  maxDepth: 64,
  maxValues: 100_000,
  maxAliasCount: 100,
});
