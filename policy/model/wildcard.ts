// IAM wildcard matching: `*` any run (also empty), `?` exactly one character. Linear in
// practice (greedy with backtracking to the last `*` only), so no pattern can stall a caller.

export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const v = ignoreCase ? value.toLowerCase() : value;
  let pi = 0;
  let vi = 0;
  let star = -1;
  let mark = 0;
  while (vi < v.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === v[vi])) {
      pi++;
      vi++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = vi;
    } else if (star >= 0) {
      pi = star + 1;
      vi = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

/** ARN matching (ArnEquals/ArnLike, Resource): each of the six colon-separated parts on its own. */
export function arnMatch(pattern: string, value: string): boolean {
  const pp = splitArn(pattern);
  const vp = splitArn(value);
  if (pp === undefined || vp === undefined) return false;
  return pp.every((part, i) => wildcardMatch(part, vp[i] as string));
}

function splitArn(arn: string): string[] | undefined {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  return [...parts.slice(0, 5), parts.slice(5).join(':')];
}
