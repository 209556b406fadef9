import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sha1dc } from './sha1dc.ts';
import { ubcCheck } from './sha1dc-ubc.ts';
import { encodeLooseObject, hashObject, parseLooseObject } from './object.ts';
import { GitVerificationError } from './errors.ts';

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../../test/fixtures/sha1dc/${name}`, import.meta.url)));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const plainSha1 = (b: Uint8Array) => createHash('sha1').update(b).digest('hex');

/** Seeded xorshift32, so every run hashes the same "random" blobs. */
function seededBytes(seed: number, length: number): Uint8Array {
  let s = seed >>> 0 || 1;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}

const PAIRS = [
  ['shattered-1-prefix320.bin', 'shattered-2-prefix320.bin'],
  ['sha-mbles-1.bin', 'sha-mbles-2.bin'],
] as const;

describe('sha1dc: collision detection', () => {
  for (const [a, b] of PAIRS) {
    it(`${a} / ${b}: different bytes, equal plain SHA-1, both flagged`, () => {
      const x = fixture(a);
      const y = fixture(b);
      expect(hex(x)).not.toBe(hex(y));
      expect(plainSha1(x)).toBe(plainSha1(y));
      for (const data of [x, y]) {
        const r = sha1dc(data);
        expect(r.collision).toBe(true);
        // The reported digest is still the standard one.
        expect(hex(r.digest)).toBe(plainSha1(data));
      }
    });
  }

  it('a collision block is detected wherever it is followed by more data', () => {
    const x = fixture('shattered-1-prefix320.bin');
    const longer = new Uint8Array(x.length + 1000);
    longer.set(x);
    longer.set(seededBytes(7, 1000), x.length);
    expect(sha1dc(longer).collision).toBe(true);
  });

  it('one flipped bit in the collision block is no longer an attack block', () => {
    const x = fixture('shattered-1-prefix320.bin');
    x[200] = (x[200] ?? 0) ^ 0x01;
    expect(sha1dc(x).collision).toBe(false);
  });
});

describe('sha1dc: ordinary data hashes exactly like SHA-1', () => {
  it('matches node:crypto at every padding boundary', () => {
    for (const n of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096 + 13]) {
      const data = seededBytes(n + 1, n);
      const r = sha1dc(data);
      expect(r.collision).toBe(false);
      expect(hex(r.digest)).toBe(plainSha1(data));
    }
  });

  it('blob ids equal `git hash-object` for seeded random blobs', () => {
    for (const [seed, n] of [[1, 0], [2, 1], [3, 63], [4, 64], [5, 300], [6, 4097], [7, 70_000]] as const) {
      const data = seededBytes(seed, n);
      const fromGit = execFileSync('git', ['hash-object', '--stdin'], { input: data }).toString('utf8').trim();
      const ours = parseLooseObject(encodeLooseObject('blob', data), 'sha1', 1 << 20);
      expect(ours.id).toBe(fromGit);
    }
  });
});

describe('hashObject refuses collision blocks in sha1 repositories', () => {
  it('SHA1_COLLISION for either half of a colliding pair', () => {
    for (const name of ['shattered-1-prefix320.bin', 'shattered-2-prefix320.bin', 'sha-mbles-1.bin', 'sha-mbles-2.bin']) {
      let caught: unknown;
      try {
        hashObject('sha1', fixture(name));
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(GitVerificationError);
      expect((caught as GitVerificationError).code).toBe('SHA1_COLLISION');
    }
  });

  it('sha256 repositories hash the same bytes as before (no SHA-1 involved)', () => {
    const x = fixture('shattered-1-prefix320.bin');
    expect(hashObject('sha256', x)).toBe(createHash('sha256').update(x).digest('hex'));
  });
});

describe('ubcCheck (the mechanically translated unavoidable bit conditions)', () => {
  it('gives the reference C ubc_check() mask for 40 recorded expanded messages', () => {
    const vectors = JSON.parse(readFileSync(new URL('../../test/fixtures/sha1dc/ubc-check-vectors.json', import.meta.url), 'utf8')) as { cases: { w: string; mask: string }[] };
    expect(vectors.cases.length).toBe(40);
    for (const c of vectors.cases) {
      const bytes = Buffer.from(c.w, 'hex');
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const w = Uint32Array.from({ length: 80 }, (_, i) => view.getUint32(4 * i, true));
      expect((ubcCheck(w) >>> 0).toString(16).padStart(8, '0')).toBe(c.mask);
    }
  });

  it('refuses an expanded message that is not 80 words', () => {
    expect(() => ubcCheck(new Uint32Array(79))).toThrow(RangeError);
  });
});
