// Shamir secret sharing over GF(2^8) exactly as sops' shamir package (from HashiCorp
// Vault): each share is the y bytes followed by one x byte; combining interpolates at 0.
import { randomBytes } from 'node:crypto';

function mult(a: number, b: number): number {
  let acc = 0;
  for (let i = 7; i >= 0; i--) {
    const bit = (b >> i) & 1;
    const aOrZero = bit === 1 ? a : 0;
    const reduce = (acc & 0x80) !== 0 ? 0x1b : 0;
    acc = (aOrZero ^ reduce ^ ((acc << 1) & 0xff)) & 0xff;
  }
  return acc;
}

function inverse(a: number): number {
  // a^254 = a^-1 in GF(2^8).
  let r = 1;
  for (let i = 0; i < 254; i++) r = mult(r, a);
  return r;
}

export function shamirCombine(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length < 2) throw new Error('less than two parts cannot be used to reconstruct the secret');
  const len = parts[0]?.length ?? 0;
  if (len < 2) throw new Error('parts must be at least two bytes');
  if (parts.some((p) => p.length !== len)) throw new Error('all parts must be the same length');
  const xs = parts.map((p) => p[len - 1] ?? 0);
  if (new Set(xs).size !== xs.length) throw new Error('duplicate part detected');
  const secret = new Uint8Array(len - 1);
  for (let idx = 0; idx < len - 1; idx++) {
    let result = 0;
    for (let i = 0; i < parts.length; i++) {
      let basis = 1;
      for (let j = 0; j < parts.length; j++) {
        if (i === j) continue;
        const xi = xs[i] ?? 0;
        const xj = xs[j] ?? 0;
        basis = mult(basis, mult(xj, inverse(xi ^ xj)));
      }
      result ^= mult(parts[i]?.[idx] ?? 0, basis);
    }
    secret[idx] = result;
  }
  return secret;
}

export function shamirSplit(secret: Uint8Array, parts: number, threshold: number): Uint8Array[] {
  if (threshold < 2 || parts < threshold || parts > 255) throw new Error('invalid Shamir parameters');
  const out = Array.from({ length: parts }, (_, i) => {
    const p = new Uint8Array(secret.length + 1);
    p[secret.length] = i + 1;
    return p;
  });
  secret.forEach((val, idx) => {
    const coeffs = [val, ...randomBytes(threshold - 1)];
    for (let i = 0; i < parts; i++) {
      const x = i + 1;
      let y = 0;
      for (let c = coeffs.length - 1; c >= 0; c--) y = mult(y, x) ^ (coeffs[c] ?? 0);
      const share = out[i];
      if (share !== undefined) share[idx] = y;
    }
  });
  return out;
}
