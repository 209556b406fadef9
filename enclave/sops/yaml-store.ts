// YAML files in and out, as sops' stores/yaml sees them: every document is a map (a
// branch), comments become items, aliases are expanded (under a budget: no billion
// laughs), duplicate keys are refused, and scalars are typed by go-yaml's rules.
import { parseAllDocuments, isAlias, isMap, isPair, isScalar, isSeq, Scalar, type Document, type Node } from 'yaml';
import { SopsError } from './errors.ts';
import { resolveYamlScalar } from './yaml-resolve.ts';
import {
  DEFAULT_LIMITS, NULL, type SopsBranch, type SopsComment, type SopsLimits, type SopsMapItem, type SopsNode,
} from './tree.ts';

interface Budget {
  values: number;
  limits: SopsLimits;
  fileName: string | undefined;
}

function tooBig(b: Budget, what: string): never {
  throw new SopsError('SOPS_INPUT_TOO_LARGE', what, { fileName: b.fileName });
}

function count(b: Budget): void {
  b.values += 1;
  if (b.values > b.limits.maxValues) tooBig(b, `more than ${b.limits.maxValues} values`);
}

function comments(text: string | null | undefined, b: Budget): SopsComment[] {
  if (text === null || text === undefined) return [];
  return text.split('\n').filter((l) => l !== '').map((l) => {
    count(b);
    return { kind: 'comment', text: l };
  });
}

function malformed(b: Budget, msg: string, node?: Node | null): never {
  const where = node?.range === undefined || node.range === null ? '' : ` (offset ${node.range[0]})`;
  throw new SopsError('SOPS_MALFORMED', `${msg}${where}`, { fileName: b.fileName });
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A scalar's text; go-yaml refuses a "\ud800" escape (no such character), so do we. */
function scalarText(n: Scalar, b: Budget): string {
  const v = String(n.value ?? '');
  if (LONE_SURROGATE.test(v)) malformed(b, 'a scalar contains an unpaired UTF-16 surrogate escape', n);
  return v;
}

function scalarKey(node: unknown, doc: Document, b: Budget): string {
  const n = isAlias(node) ? node.resolve(doc) : node;
  if (!isScalar(n)) malformed(b, 'map keys must be scalars', n as Node);
  scalarText(n, b);
  const quoted = n.type !== Scalar.PLAIN && n.type !== undefined;
  const r = resolveYamlScalar(String(n.value ?? ''), quoted, n.tag);
  if (r.kind !== 'leaf' || r.type !== 'str') {
    throw new SopsError('SOPS_UNSUPPORTED', `map key '${String(n.value)}' is not a string (sops only supports string keys)`, { fileName: b.fileName });
  }
  return r.text;
}

function toNode(node: unknown, doc: Document, b: Budget, depth: number): SopsNode {
  if (depth > b.limits.maxDepth) tooBig(b, `nesting deeper than ${b.limits.maxDepth}`);
  if (node === null || node === undefined) {
    count(b);
    return NULL;
  }
  if (isAlias(node)) {
    const target = node.resolve(doc);
    if (target === undefined) malformed(b, `unknown alias *${node.source}`);
    return toNode(target, doc, b, depth + 1);
  }
  if (isScalar(node)) {
    count(b);
    const quoted = node.type !== Scalar.PLAIN && node.type !== undefined;
    const r = resolveYamlScalar(scalarText(node, b), quoted, node.tag);
    if (r.kind === 'uint') throw new SopsError('SOPS_UNSUPPORTED', `integer ${String(node.value)} does not fit in int64`, { fileName: b.fileName });
    if (r.kind === 'unsupported') throw new SopsError('SOPS_UNSUPPORTED', `scalar '${String(node.value)}' cannot be read as ${r.tag}`, { fileName: b.fileName });
    return r;
  }
  if (isSeq(node)) {
    const items: SopsNode[] = [...comments(node.commentBefore, b)];
    for (const it of node.items) {
      if (isScalar(it) || isMap(it) || isSeq(it)) items.push(...comments(it.commentBefore, b));
      items.push(toNode(it, doc, b, depth + 1));
      if (isScalar(it)) items.push(...comments(it.comment, b));
    }
    items.push(...comments(node.comment, b));
    return { kind: 'list', items };
  }
  if (isMap(node)) return toMap(node, doc, b, depth);
  return malformed(b, 'unsupported YAML node', node as Node);
}

function toMap(node: Node, doc: Document, b: Budget, depth: number): SopsBranch {
  if (!isMap(node)) return malformed(b, 'expected a map', node);
  const items: SopsMapItem[] = [];
  const seen = new Set<string>();
  for (const c of comments(node.commentBefore, b)) items.push({ comment: c });
  for (const pair of node.items) {
    if (!isPair(pair)) malformed(b, 'malformed map entry');
    const keyNode = pair.key as Node | null;
    if (isScalar(keyNode)) for (const c of comments(keyNode.commentBefore, b)) items.push({ comment: c });
    const key = scalarKey(keyNode, doc, b);
    // go-yaml refuses duplicate keys (sops decodes into a map first to make sure).
    if (seen.has(key)) malformed(b, `duplicate key '${key}'`, keyNode);
    seen.add(key);
    const v = pair.value as Node | null;
    if (isScalar(v)) for (const c of comments(v.commentBefore, b)) items.push({ comment: c });
    items.push({ key, value: toNode(v, doc, b, depth + 1) });
    if (isScalar(v)) for (const c of comments(v.comment, b)) items.push({ comment: c });
  }
  for (const c of comments(node.comment, b)) items.push({ comment: c });
  return { kind: 'map', items };
}

/** Parse YAML text into branches (one per document), sops metadata still included. */
export function parseYamlBranches(text: string, fileName?: string, limits: SopsLimits = DEFAULT_LIMITS): SopsBranch[] {
  const b: Budget = { values: 0, limits, fileName };
  if (Buffer.byteLength(text, 'utf8') > limits.maxBytes) tooBig(b, `file larger than ${limits.maxBytes} bytes`);
  let docs;
  try {
    docs = parseAllDocuments(text, {
      schema: 'failsafe',
      // Duplicate keys are checked in toMap with a Set: the package's own check is O(n²).
      uniqueKeys: false,
      // Keep !!binary/!!timestamp/!!set as raw text: we type scalars ourselves.
      resolveKnownTags: false,
      prettyErrors: true,
      strict: true,
    });
  } catch (e) {
    return malformed(b, `invalid YAML: ${(e as Error).message}`);
  }
  const list = Array.isArray(docs) ? docs : [docs];
  const out: SopsBranch[] = [];
  let aliases = 0;
  for (const doc of list) {
    if (doc.errors.length > 0) {
      const e = doc.errors[0];
      const line = e?.linePos?.[0]?.line;
      malformed(b, `invalid YAML${line === undefined ? '' : ` at line ${line}`}: ${e?.message.split('\n')[0] ?? ''}`);
    }
    aliases += countAliases(doc.contents);
    if (aliases > limits.maxAliasCount) tooBig(b, `more than ${limits.maxAliasCount} YAML aliases`);
    const top: SopsMapItem[] = comments(doc.commentBefore, b).map((c) => ({ comment: c }));
    const contents = doc.contents as Node | null;
    if (contents === null || (isScalar(contents) && contents.value === null)) {
      out.push({ kind: 'map', items: [...top, ...comments(doc.comment, b).map((c) => ({ comment: c }))] });
      continue;
    }
    if (isSeq(contents)) throw new SopsError('SOPS_UNSUPPORTED', 'YAML documents that are sequences are not supported', { fileName });
    if (!isMap(contents)) throw new SopsError('SOPS_UNSUPPORTED', 'YAML documents that are values are not supported', { fileName });
    const m = toMap(contents, doc as Document, b, 1);
    out.push({ kind: 'map', items: [...top, ...m.items, ...comments(doc.comment, b).map((c) => ({ comment: c }))] });
  }
  return out;
}

/** Alias references in the document as written (iterative: no recursion on hostile depth). */
function countAliases(root: unknown): number {
  let n = 0;
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isAlias(node)) n++;
    else if (isMap(node)) for (const p of node.items) stack.push(p.key, p.value);
    else if (isSeq(node)) for (const i of node.items) stack.push(i);
  }
  return n;
}

// ---- emitting -------------------------------------------------------------------------

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_.\-/]*$/;

function emitKey(k: string): string {
  // A key must come back as the same string: plain only when go-yaml would read it so.
  const r = resolveYamlScalar(k, false, undefined);
  return PLAIN_KEY.test(k) && r.kind === 'leaf' && r.type === 'str' && r.text === k ? k : JSON.stringify(k);
}

function emitScalar(n: SopsNode): string {
  switch (n.kind) {
    case 'null':
      return 'null';
    case 'leaf':
      switch (n.type) {
        case 'str':
        case 'bytes':
          // Bytes that are not UTF-8 (as go-yaml writes them).
          if (n.raw !== undefined) return `!!binary ${Buffer.from(n.raw).toString('base64')}`;
          // ENC[...] strings are safe plain scalars; anything else is double-quoted (JSON
          // string syntax is valid YAML double-quoted syntax).
          return /^ENC\[AES256_GCM,[A-Za-z0-9+/=,:]+\]$/.test(n.text) ? n.text : JSON.stringify(n.text);
        case 'int':
          return n.text;
        case 'float':
          if (n.text === 'NaN') return '.nan';
          if (n.text === '+Inf') return '.inf';
          if (n.text === '-Inf') return '-.inf';
          return /[.eE]/.test(n.text) ? n.text : `${n.text}.0`;
        case 'bool':
          return n.text === 'True' ? 'true' : 'false';
        case 'time':
          return n.text;
      }
      break;
    default:
      break;
  }
  throw new Error('not a scalar');
}

function emitComment(c: SopsComment, pad: string, out: string[]): void {
  out.push(`${pad}#${c.text}`);
}

function emitMapBody(m: SopsBranch, pad: string, indent: string, out: string[]): void {
  for (const it of m.items) {
    if ('comment' in it) {
      emitComment(it.comment, pad, out);
      continue;
    }
    const k = emitKey(it.key);
    const v = it.value;
    if (v.kind === 'map') {
      if (v.items.every((x) => 'comment' in x)) {
        out.push(`${pad}${k}: {}`);
        for (const x of v.items) if ('comment' in x) emitComment(x.comment, pad + indent, out);
      } else {
        out.push(`${pad}${k}:`);
        emitMapBody(v, pad + indent, indent, out);
      }
    } else if (v.kind === 'list') {
      if (v.items.every((x) => x.kind === 'comment')) {
        out.push(`${pad}${k}: []`);
      } else {
        out.push(`${pad}${k}:`);
        emitList(v.items, pad + indent, indent, out);
      }
    } else if (v.kind === 'comment') {
      emitComment(v, pad, out);
    } else {
      out.push(`${pad}${k}: ${emitScalar(v)}`);
    }
  }
}

function emitList(items: SopsNode[], pad: string, indent: string, out: string[]): void {
  for (const v of items) {
    if (v.kind === 'comment') {
      emitComment(v, pad, out);
    } else if (v.kind === 'map') {
      if (v.items.every((x) => 'comment' in x)) out.push(`${pad}- {}`);
      else {
        out.push(`${pad}-`);
        emitMapBody(v, pad + indent, indent, out);
      }
    } else if (v.kind === 'list') {
      if (v.items.every((x) => x.kind === 'comment')) out.push(`${pad}- []`);
      else {
        out.push(`${pad}-`);
        emitList(v.items, pad + indent, indent, out);
      }
    } else {
      out.push(`${pad}- ${emitScalar(v)}`);
    }
  }
}

/** Emit branches as YAML (4-space indent like sops; `---` between documents). */
export function emitYamlBranches(branches: SopsBranch[]): string {
  const docs = branches.map((b) => {
    const out: string[] = [];
    emitMapBody(b, '', '    ', out);
    return out.length === 0 ? '{}\n' : `${out.join('\n')}\n`;
  });
  return docs.join('---\n');
}
