// Mutation fuzzing of SOPS files and Clef artifacts: every mutated input either opens or is
// refused with a coded error — never another exception. What an accepted SOPS mutant may
// differ in is exactly what sops itself does not protect: the MAC covers leaf values in
// document order (not key names or list nesting) and the AAD binds each encrypted value to
// its map-key path. So an accepted mutant must have the same leaf values in the same order
// and every encrypted value at the same path; artifacts must open to identical values.
import { generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ClefError, ed25519Signer, packArtifact, readArtifact } from '../enclave/clef/index.ts';
import { SopsError, ageKeyWrapper, decryptSopsWithKey, encryptSops, parseSops, type SopsFormat, type SopsNode } from '../enclave/sops/index.ts';
import { ageUnwrapper } from '../enclave/sops/unwrap.ts';
import { newAgeKey, type AgeKeyPair } from './sops-support.ts';

/** Small deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ' \n:-"\'{}[],#&*!|>0123456789abcdefENC[]=+/\\\t';

function mutate(text: string, r: () => number): string {
  const chars = [...text];
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * chars.length);
    const op = r();
    const c = ALPHABET.charAt(Math.floor(r() * ALPHABET.length));
    if (op < 0.4) chars[at] = c;
    else if (op < 0.7) chars.splice(at, 1);
    else chars.splice(at, 0, c);
  }
  return chars.join('');
}

/** Leaf values in document order; encrypted ones (no `_unencrypted` key on the path) with their path. */
function protectedView(nodes: readonly SopsNode[]): string {
  const out: string[] = [];
  const walk = (n: SopsNode, path: string[]): void => {
    if (n.kind === 'leaf') out.push(path.some((k) => k.endsWith('_unencrypted')) ? `=${n.text}` : `${path.join(':')}=${n.text}`);
    else if (n.kind === 'list') n.items.forEach((x) => walk(x, path));
    else if (n.kind === 'map') for (const it of n.items) if ('key' in it) walk(it.value, [...path, it.key]);
  };
  nodes.forEach((n) => walk(n, []));
  return out.join('\n');
}

let id: AgeKeyPair;
beforeAll(async () => {
  id = await newAgeKey();
});

describe('mutation fuzzing', () => {
  for (const format of ['yaml', 'json'] as const) {
    it(`SOPS ${format}: 400 mutants keep every protected value or are refused with a SopsError`, async () => {
      const plain = format === 'yaml'
        ? '# c\ndb:\n    password: hunter2\n    port: 5432\nlist:\n    - a\n    - {k: v}\nx_unencrypted: open\n'
        : '{"db": {"password": "hunter2", "port": 5432}, "list": ["a", {"k": "v"}], "x_unencrypted": "open"}';
      const enc = await encryptSops(plain, { format, keys: [ageKeyWrapper(id.recipient)] });
      const original = parseSops(enc, { format, fileName: 'f' });
      const key = await ageUnwrapper([id.identity]).unwrap(original.metadata, 'f');
      const want = protectedView(decryptSopsWithKey(original, key).branches);
      const r = rng(format === 'yaml' ? 1 : 2);
      let refused = 0;
      for (let i = 0; i < 400; i++) {
        const m = mutate(enc, r);
        try {
          const got = decryptSopsWithKey(parseSops(m, { format: format as SopsFormat, fileName: 'f' }), key);
          expect(protectedView(got.branches)).toBe(want);
        } catch (e) {
          if (!(e instanceof SopsError)) throw new Error(`mutant ${i} threw ${String(e)}\n${m}`);
          refused++;
        }
      }
      expect(refused).toBeGreaterThan(200);
    });
  }

  it('Clef artifacts: 300 mutants are opened identically or refused with a ClefError', async () => {
    const ed = generateKeyPairSync('ed25519');
    const values = { ns: { K: 'v' } };
    const { json } = await packArtifact({ identity: 'a', environment: 'e', values, target: { recipient: id.recipient }, signer: ed25519Signer(ed.privateKey) });
    const r = rng(3);
    for (let i = 0; i < 300; i++) {
      const m = mutate(json, r);
      try {
        const got = await readArtifact(m, { expect: { identity: 'a', environment: 'e' }, verifyKey: ed.publicKey, ageIdentities: [id.identity] });
        expect(got.values).toEqual(values);
      } catch (e) {
        if (!(e instanceof ClefError)) throw new Error(`mutant ${i} threw ${String(e)}\n${m}`);
      }
    }
  });
});
