// Which leaves sops encrypts (sops.go shouldBeEncrypted): suffix and regex rules test
// every key on the leaf's path. Go regexps are unanchored RE2; we translate the few RE2
// spellings JavaScript lacks and refuse patterns that do not compile.
import { SopsError } from './errors.ts';
import type { EncryptionRules } from './metadata.ts';

export type EncryptPredicate = (path: readonly string[]) => boolean;

/** Translate an RE2 pattern to a JavaScript RegExp (leading inline flags, \A, \z, (?P<). */
export function goRegExp(pattern: string, where: { fileName?: string }): RegExp {
  let src = pattern;
  let flags = 'u';
  const lead = /^\(\?([imsU]+)\)/.exec(src);
  if (lead !== null) {
    const f = lead[1] ?? '';
    if (f.includes('U')) throw new SopsError('SOPS_UNSUPPORTED', `regex flag U in '${pattern}' is not supported`, where);
    flags += f;
    src = src.slice(lead[0].length);
  }
  src = src.replaceAll('(?P<', '(?<').replaceAll('\\A', '^').replaceAll('\\z', '$');
  try {
    return new RegExp(src, flags);
  } catch (e) {
    throw new SopsError('SOPS_UNSUPPORTED', `regex '${pattern}' cannot be used: ${(e as Error).message}`, where);
  }
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
