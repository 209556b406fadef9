// Depth-first walk over a branch in document order, the order sops' walkBranch visits
// leaves (and therefore the order the MAC hashes them). List indexes never enter the
// path; comments are visited with their parent's path. The visitor is told where the
// node sits, because sops treats a list item that decrypts to a comment as a comment.
import type { SopsBranch, SopsComment, SopsLeaf, SopsMapItem, SopsNode } from './tree.ts';

/** `map`: a map value; `list`: a list item; `comment`: a comment item of a map. */
export type LeafPlace = 'map' | 'list' | 'comment';

export type LeafVisitor = (node: SopsLeaf | SopsComment, path: readonly string[], place: LeafPlace) => SopsLeaf | SopsComment;

function walkValue(n: SopsNode, path: string[], visit: LeafVisitor, place: 'map' | 'list'): SopsNode {
  switch (n.kind) {
    case 'leaf':
    case 'comment':
      return visit(n, path, place);
    case 'null':
      return n;
    case 'list':
      return { kind: 'list', items: n.items.map((x) => walkValue(x, path, visit, 'list')) };
    case 'map':
      return walkMap(n, path, visit);
  }
}

function walkMap(m: SopsBranch, path: string[], visit: LeafVisitor): SopsBranch {
  const items: SopsMapItem[] = m.items.map((it) => {
    if ('comment' in it) {
      const c = visit(it.comment, path, 'comment');
      return { comment: c.kind === 'comment' ? c : { kind: 'comment', text: c.text } };
    }
    return { key: it.key, value: walkValue(it.value, [...path, it.key], visit, 'map') };
  });
  return { kind: 'map', items };
}

/** Returns a new branch with every leaf and comment replaced by what `visit` returns. */
export function walkBranch(branch: SopsBranch, visit: LeafVisitor): SopsBranch {
  return walkMap(branch, [], visit);
}
