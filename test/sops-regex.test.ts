// encrypted_regex / unencrypted_regex run as sops runs them: Go RE2 syntax and semantics,
// linear time. Each case is a file the real sops 3.12.2 encrypted with the rule; we must
// reproduce its MAC (so choose exactly the same leaves as encrypted) and its values.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ageUnwrapper, decryptSops, parseSops } from '../enclave/sops/index.ts';
import { encryptPredicate } from '../enclave/sops/rules.ts';
import { newAgeKey, runSops, scratch, type AgeKeyPair, type Scratch } from './sops-support.ts';

let s: Scratch;
let key: AgeKeyPair;
beforeAll(async () => {
  s = scratch();
  key = await newAgeKey();
});
afterAll(() => s.cleanup());

interface Case {
  name: string;
  flag: '--encrypted-regex' | '--unencrypted-regex';
  pattern: string;
  /** Keys with the value each gets; `enc` says whether sops must have encrypted it. */
  keys: Array<{ key: string; enc: boolean }>;
}

const A27 = `${'a'.repeat(27)}!`;

const CASES: Case[] = [
  // Catastrophic backtracking in a JavaScript engine; RE2 answers at once.
  { name: 'ReDoS pattern ^(a|a)*$', flag: '--encrypted-regex', pattern: '^(a|a)*$', keys: [{ key: A27, enc: false }, { key: 'aaaa', enc: true }] },
  // Go's \s is [\t\n\f\r ]: NBSP (U+00A0) is not a space there.
  { name: '\\s is ASCII-only', flag: '--encrypted-regex', pattern: '\\s', keys: [{ key: 'nb\u00a0sp', enc: false }, { key: 'sp ace', enc: true }, { key: 'plain', enc: false }] },
  { name: 'POSIX class [[:upper:]]', flag: '--encrypted-regex', pattern: '[[:upper:]]', keys: [{ key: 'Upper', enc: true }, { key: 'lower', enc: false }] },
  { name: 'Unicode class \\pL', flag: '--unencrypted-regex', pattern: '^\\pL+$', keys: [{ key: 'élan', enc: false }, { key: '_1', enc: true }] },
  { name: 'scoped flags (?i:…)', flag: '--encrypted-regex', pattern: '^(?i:ab)c$', keys: [{ key: 'ABc', enc: true }, { key: 'ABC', enc: false }] },
  { name: 'quoted literal \\Q…\\E', flag: '--encrypted-regex', pattern: '^\\Qa.b\\E$', keys: [{ key: 'a.b', enc: true }, { key: 'axb', enc: false }] },
];

function yamlKey(k: string): string {
  return JSON.stringify(k);
}

describe('Go RE2 rules, checked against the real sops', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const text = c.keys.map((k, i) => `${yamlKey(k.key)}: value-${i}\n`).join('');
      const p = s.write('regex.yaml', text);
      const r = runSops(['encrypt', '--age', key.recipient, c.flag, c.pattern, p], { cwd: s.dir });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      // The leaves sops chose to encrypt are the ones the case says.
      for (const [i, k] of c.keys.entries()) {
        expect(r.stdout.includes(`: value-${i}\n`), k.key).toBe(!k.enc);
      }
      const d = await decryptSops(parseSops(r.stdout, { format: 'yaml', fileName: 'regex.yaml' }), ageUnwrapper([key.identity]));
      expect(d.data).toEqual(Object.fromEntries(c.keys.map((k, i) => [k.key, `value-${i}`])));
    });
  }

  it('answers the ReDoS pattern on a long key without backtracking', () => {
    const pred = encryptPredicate({ encryptedRegex: '^(a|a)*$' }, { fileName: 'f' });
    expect(pred([`${'a'.repeat(5000)}!`])).toBe(false);
    expect(pred(['a'.repeat(5000)])).toBe(true);
  });

  it('refuses what Go refuses: backreferences, lookaround, over-long patterns', () => {
    for (const p of ['(a)\\1', '(?=a)', '(?<!a)b', 'a{1001}', 'x'.repeat(5000)]) {
      expect(() => encryptPredicate({ encryptedRegex: p }, { fileName: 'f' }), p).toThrow(expect.objectContaining({ code: 'SOPS_UNSUPPORTED' }));
    }
  });
});
