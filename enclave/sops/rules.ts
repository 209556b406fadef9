// Which leaves sops encrypts (sops.go shouldBeEncrypted): suffix and regex rules test
// every key on the leaf's path. sops compiles the regexes with Go's regexp (RE2 syntax,
// unanchored, linear time); we use re2js, a pure-JavaScript port of RE2J, which has the
// same syntax and semantics (`\s` ASCII-only, `[[:upper:]]`, `\pL`, `(?i:…)`, `\Q…\E`) and
// the same linear-time guarantee: a file's pattern runs synchronously on the event loop,
// so a backtracking engine would let one file freeze the enclave (`^(a|a)*$`).
import { RE2JS } from 're2js';
import { SopsError } from './errors.ts';
import type { EncryptionRules } from './metadata.ts';

export type EncryptPredicate = (path: readonly string[]) => boolean;

/** A compiled Go (RE2) regexp; `test` is an unanchored search, like Go's MatchString. */
export interface GoRegExp {
  test(s: string): boolean;
}

/** Longest pattern accepted (Go has no limit; real rules are a few dozen characters). */
const MAX_PATTERN = 4096;

/** Compile a pattern as Go's regexp.Compile does; refuses what Go refuses. */
export function goRegExp(pattern: string, where: { fileName?: string }): GoRegExp {
  if (pattern.length > MAX_PATTERN) {
    throw new SopsError('SOPS_UNSUPPORTED', `regex is longer than ${MAX_PATTERN} characters`, where);
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (e) {
    throw new SopsError('SOPS_UNSUPPORTED', `regex '${pattern}' does not compile as RE2: ${(e as Error).message}`, where);
  }
  return { test: (s) => re.test(s) };
}

export function encryptPredicate(rules: EncryptionRules, where: { fileName?: string }): EncryptPredicate {
  if (rules.unencryptedCommentRegex !== undefined || rules.encryptedCommentRegex !== undefined) {
    // Comment-driven rules depend on exactly where go-yaml attaches each comment, which
    // another YAML parser cannot reproduce reliably: refuse rather than guess.
    throw new SopsError('SOPS_UNSUPPORTED', 'unencrypted_comment_regex / encrypted_comment_regex files are not supported', where);
  }
  const { unencryptedSuffix: us, encryptedSuffix: es } = rules;
  const ur = rules.unencryptedRegex === undefined ? undefined : goRegExp(rules.unencryptedRegex, where);
  const er = rules.encryptedRegex === undefined ? undefined : goRegExp(rules.encryptedRegex, where);
  return (path) => {
    let encrypted = true;
    if (us !== undefined && us !== '' && path.some((k) => k.endsWith(us))) encrypted = false;
    if (es !== undefined && es !== '') encrypted = path.some((k) => k.endsWith(es));
    if (ur !== undefined && path.some((k) => ur.test(k))) encrypted = false;
    if (er !== undefined) encrypted = path.some((k) => er.test(k));
    return encrypted;
  };
}

/** The AAD sops binds to a value: map keys on the path joined by ':' plus a trailing ':'. */
export function aadFor(path: readonly string[]): string {
  return `${path.join(':')}:`;
}
