// The sops metadata of dotenv and ini files, which hold it flattened into string keys
// (stores/flatten.go): `age__list_0__map_enc` is `age[0].enc`. We rebuild the metadata map
// the way sops' Unflatten + DecodeNewLines + DecodeNonStrings do, then hand it to the same
// parser as YAML/JSON metadata. Stricter than sops where sops would guess: unknown field
// names (Go's JSON decoder would match them case-insensitively or drop them), holes in a
// list and a path used both as a value and as a container are refused.
import { SopsError } from './errors.ts';
import { parseGoAtoi, parseGoFloat } from './go-format.ts';
import { leaf, str, type SopsMap, type SopsNode } from './tree.ts';

const MAP_SEP = '__map_';
const LIST_SEP = '__list_';

/** Top-level fields of sops' stores.Metadata (their JSON names). */
const FIELDS: ReadonlySet<string> = new Set([
  'shamir_threshold', 'key_groups', 'kms', 'gcp_kms', 'hckms', 'azure_kv', 'hc_vault', 'age', 'pgp',
  'lastmodified', 'mac', 'unencrypted_suffix', 'encrypted_suffix', 'unencrypted_regex', 'encrypted_regex',
  'unencrypted_comment_regex', 'encrypted_comment_regex', 'mac_only_encrypted', 'version',
]);

type Token = { map: string } | { list: number };

/** stores.tokenize: split at every `__map_` / `__list_`. */
function tokenize(path: string, bad: (m: string) => never): Token[] {
  const out: Token[] = [];
  let state: 'first' | 'map' | 'list' = 'first';
  let start = 0;
  const finish = (end: number): void => {
    if (state === 'list') {
      const t = path.slice(start, end);
      if (!/^(0|[1-9][0-9]{0,4})$/.test(t)) bad(`metadata key '${path}' has a bad list index '${t}'`);
      out.push({ list: Number(t) });
    } else {
      out.push({ map: path.slice(start, end) });
    }
  };
  let i = 0;
  while (i < path.length) {
    const sep = path.startsWith(MAP_SEP, i) ? MAP_SEP : path.startsWith(LIST_SEP, i) ? LIST_SEP : undefined;
    if (sep === undefined) {
      i++;
      continue;
    }
    finish(i);
    state = sep === MAP_SEP ? 'map' : 'list';
    i += sep.length;
    start = i;
  }
  finish(path.length);
  return out;
}

type Tree = Map<string | number, Tree | string>;

function insert(root: Tree, tokens: Token[], value: string, bad: (m: string) => never, path: string): void {
  let node = root;
  tokens.forEach((t, i) => {
    const k = 'map' in t ? t.map : t.list;
    const last = i === tokens.length - 1;
    const cur = node.get(k);
    if (last) {
      if (cur !== undefined) bad(`metadata key '${path}' is given twice or clashes with another`);
      node.set(k, value);
      return;
    }
    if (typeof cur === 'string') bad(`metadata key '${path}' clashes with another`);
    const next: Tree = cur ?? new Map();
    node.set(k, next);
    node = next;
  });
}

function toNode(t: Tree | string, bad: (m: string) => never): SopsNode {
  // DecodeNewLines: the stores write a newline as the two characters `\n`.
  if (typeof t === 'string') return str(t.replaceAll('\\n', '\n'));
  const keys = [...t.keys()];
  if (keys.length > 0 && keys.every((k) => typeof k === 'number')) {
    const n = keys.length;
    for (let i = 0; i < n; i++) if (!t.has(i)) bad(`metadata list has no entry ${i}`);
    return { kind: 'list', items: Array.from({ length: n }, (_, i) => toNode(t.get(i) ?? '', bad)) };
  }
  if (keys.some((k) => typeof k === 'number')) bad('metadata mixes list and map entries');
  return { kind: 'map', items: keys.map((k) => ({ key: String(k), value: toNode(t.get(k) ?? '', bad) })) };
}

/** DecodeNonStrings: `mac_only_encrypted` is true only for exactly "true"; shamir_threshold an integer. */
function decodeNonStrings(field: string, v: string, bad: (m: string) => never): SopsNode | undefined {
  if (field === 'mac_only_encrypted') return leaf('bool', v === 'true' ? 'True' : 'False');
  if (field !== 'shamir_threshold') return undefined;
  const i = parseGoAtoi(v);
  if (i !== undefined) return leaf('int', i.toString());
  const f = parseGoFloat(v);
  if (f === undefined || !Number.isSafeInteger(f)) bad(`shamir_threshold '${v}' is not an integer`);
  return leaf('int', String(f));
}

/** Flattened `field → value` pairs (prefix already removed) to the `sops` map. */
export function unflattenMetadata(flat: ReadonlyArray<readonly [string, string]>, where: { fileName?: string }): SopsMap {
  const bad = (m: string): never => {
    throw new SopsError('SOPS_METADATA_INVALID', m, where);
  };
  if (flat.length === 0) bad('sops metadata not found (is this file encrypted with sops?)');
  const root: Tree = new Map();
  const scalars = new Map<string, SopsNode>();
  for (const [path, value] of flat) {
    const tokens = tokenize(path, bad);
    const first = tokens[0];
    const field = first !== undefined && 'map' in first ? first.map : '';
    if (!FIELDS.has(field)) bad(`unknown sops metadata field '${path}'`);
    const special = tokens.length === 1 ? decodeNonStrings(field, value, bad) : undefined;
    if (special !== undefined) {
      if (scalars.has(field)) bad(`metadata key '${path}' is given twice`);
      scalars.set(field, special);
    }
    insert(root, tokens, value, bad, path);
  }
  const m = toNode(root, bad);
  if (m.kind !== 'map') return bad('sops metadata is not a map');
  return { kind: 'map', items: m.items.map((it) => ('key' in it && scalars.has(it.key) ? { key: it.key, value: scalars.get(it.key) ?? it.value } : it)) };
}
