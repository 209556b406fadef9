// The KMS-shape CMS fast path (enclave/cms-fast.ts) against the full pkijs parse: on what
// the emulator builds (KMS's shape) both give the same fields and the fast path is taken;
// on seeded random mutations the fast path never accepts what the full parse refuses and
// never answers differently — it can only be narrower.
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { buildCiphertextForRecipient } from '../simulator/kms/cms-recipient.ts';
import { parseKmsShape } from '../enclave/cms-fast.ts';
import { openCiphertextForRecipient, parseCiphertextForRecipientWith } from '../enclave/cms.ts';
import { mulberry32 } from '../simulator/mulberry32.ts';

const rng = mulberry32;

function full(b: Uint8Array): ReturnType<typeof parseCiphertextForRecipientWith> | Error {
  try {
    return parseCiphertextForRecipientWith(b, false);
  } catch (e) {
    return e as Error;
  }
}

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));

describe('CMS fast path', () => {
  it('takes the KMS shape and agrees with the full parse; the data key opens', () => {
    for (const size of [1, 16, 32, 100, 4096]) {
      const plain = randomBytes(size);
      const cms = buildCiphertextForRecipient(plain, spki);
      const fast = parseKmsShape(cms);
      expect(fast).toBeDefined();
      expect(fast).toEqual(full(cms));
      expect(Buffer.from(openCiphertextForRecipient(cms, privateKey)).equals(plain)).toBe(true);
    }
  });

  it('on 4000 seeded mutations it never accepts what the full parse refuses, nor answers differently', () => {
    const next = rng(2026);
    const base = buildCiphertextForRecipient(randomBytes(32), spki);
    let fastTaken = 0;
    for (let i = 0; i < 4000; i++) {
      const b = Uint8Array.from(base);
      const kind = i % 4;
      let m: Uint8Array = b;
      const at = Math.floor(next() * b.length);
      if (kind === 0) b[at] = Math.floor(next() * 256);
      else if (kind === 1) b[at] = (b[at] as number) ^ (1 << Math.floor(next() * 8));
      else if (kind === 2) m = b.subarray(0, at);
      else m = Uint8Array.from([...b.subarray(0, at), Math.floor(next() * 256), ...b.subarray(at)]);
      const fast = parseKmsShape(m);
      if (fast === undefined) continue;
      fastTaken += 1;
      const reference = full(m);
      expect(reference).not.toBeInstanceOf(Error);
      expect(fast).toEqual(reference);
    }
    // Mutations inside the key, IV or content still take the fast path (and agree).
    expect(fastTaken).toBeGreaterThan(100);
  });
});
