// Mutated receipts must be refused with a coded VerificationError — never accepted, never
// an uncaught TypeError/RangeError. Deterministic PRNG so a failure reproduces.
import { describe, expect, it } from 'vitest';
import { isVerificationError } from '../verifier/errors.ts';
import { verifyReceipt } from '../verifier/receipt.ts';
import { editReceipt, makeReceipt, sampleManifest, testCa } from './receipt-fixtures.ts';

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

function mutate(bytes: Uint8Array, rand: () => number): Uint8Array {
  const out = new Uint8Array(bytes);
  const n = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rand() * out.length);
    out[at] = (out[at] ?? 0) ^ (1 + Math.floor(rand() * 255));
  }
  return out;
}

describe('mutated receipts are refused with a code', () => {
  it('byte flips in the receipt file, the DSSE payload and the attestation document', async () => {
    const ca = await testCa();
    const { receipt } = await makeReceipt();
    const manifest = sampleManifest();
    const rand = prng(0x5eed);
    const codes = new Map<string, number>();
    const json = JSON.parse(new TextDecoder().decode(receipt)) as { dsse: { payload: string }; attestationDocument: string };
    const payload = Buffer.from(json.dsse.payload, 'base64');
    const doc = Buffer.from(json.attestationDocument, 'base64');

    for (let i = 0; i < 300; i++) {
      const which = i % 3;
      let candidate: Uint8Array;
      if (which === 0) {
        candidate = mutate(receipt, rand);
      } else if (which === 1) {
        const p = mutate(payload, rand);
        candidate = editReceipt(receipt, (j) => { (j.dsse as { payload: string }).payload = Buffer.from(p).toString('base64'); });
      } else {
        const d = mutate(doc, rand);
        candidate = editReceipt(receipt, (j) => { j.attestationDocument = Buffer.from(d).toString('base64'); });
      }
      let code = 'ACCEPTED';
      try {
        verifyReceipt(candidate, { manifest, root: ca.rootDer });
      } catch (e) {
        if (!isVerificationError(e)) throw new Error(`iteration ${i}: uncoded ${String(e)}`);
        code = e.code;
      }
      codes.set(code, (codes.get(code) ?? 0) + 1);
      // A flip in the JSON whitespace or in an unsigned, unchecked spot is the only way to
      // still verify; a flip in the signed payload or the document never is.
      if (which !== 0) expect(code, `iteration ${i}`).not.toBe('ACCEPTED');
    }
    // The refusals are spread over several checks, not one catch-all.
    expect(codes.size).toBeGreaterThan(4);
  });
});
