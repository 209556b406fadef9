// ECDSA P-256 over a caller-supplied SHA-256 digest (KMS Sign/Verify with
// MessageType=DIGEST, which Clef uses). node:crypto always hashes its input for EC keys,
// so the digest path does the curve arithmetic itself (Jacobian coordinates, BigInt).
// Only the emulator uses this; speed and side channels do not matter for a test tool.
import { randomBytes, type KeyObject } from 'node:crypto';

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const GX = 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n;
const GY = 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n;

type Jacobian = [bigint, bigint, bigint];
const INFINITY: Jacobian = [0n, 1n, 0n];

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

function inv(a: bigint, m: bigint): bigint {
  // Extended Euclid.
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}

function double([x, y, z]: Jacobian): Jacobian {
  if (z === 0n || y === 0n) return INFINITY;
  // a = -3 doubling (dbl-2001-b)
  const delta = mod(z * z, P);
  const gamma = mod(y * y, P);
  const beta = mod(x * gamma, P);
  const alpha = mod(3n * (x - delta) * (x + delta), P);
  const x3 = mod(alpha * alpha - 8n * beta, P);
  const z3 = mod((y + z) * (y + z) - gamma - delta, P);
  const y3 = mod(alpha * (4n * beta - x3) - 8n * gamma * gamma, P);
  return [x3, y3, z3];
}

function add(p1: Jacobian, p2: Jacobian): Jacobian {
  if (p1[2] === 0n) return p2;
  if (p2[2] === 0n) return p1;
  const [x1, y1, z1] = p1;
  const [x2, y2, z2] = p2;
  const z1z1 = mod(z1 * z1, P);
  const z2z2 = mod(z2 * z2, P);
  const u1 = mod(x1 * z2z2, P);
  const u2 = mod(x2 * z1z1, P);
  const s1 = mod(y1 * z2 * z2z2, P);
  const s2 = mod(y2 * z1 * z1z1, P);
  if (u1 === u2) return s1 === s2 ? double(p1) : INFINITY;
  const h = mod(u2 - u1, P);
  const r = mod(s2 - s1, P);
  const hh = mod(h * h, P);
  const hhh = mod(h * hh, P);
  const v = mod(u1 * hh, P);
  const x3 = mod(r * r - hhh - 2n * v, P);
  const y3 = mod(r * (v - x3) - s1 * hhh, P);
  const z3 = mod(z1 * z2 * h, P);
  return [x3, y3, z3];
}

function multiply(k: bigint, point: Jacobian): Jacobian {
  let result = INFINITY;
  let addend = point;
  let e = k;
  while (e > 0n) {
    if (e & 1n) result = add(result, addend);
    addend = double(addend);
    e >>= 1n;
  }
  return result;
}

function affineX([x, , z]: Jacobian): bigint {
  const zi = inv(z, P);
  return mod(x * zi * zi, P);
}

function toBig(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`);
}

function b64url(s: string | undefined): bigint {
  if (s === undefined) throw new Error('JWK member missing');
  return toBig(Buffer.from(s, 'base64url'));
}

function derInt(v: bigint): Buffer {
  let hex = v.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let b = Buffer.from(hex, 'hex');
  if ((b[0] ?? 0) & 0x80) b = Buffer.concat([Buffer.of(0), b]);
  return Buffer.concat([Buffer.of(0x02, b.length), b]);
}

function encodeSignature(r: bigint, s: bigint): Uint8Array {
  const body = Buffer.concat([derInt(r), derInt(s)]);
  return new Uint8Array(Buffer.concat([Buffer.of(0x30, body.length), body]));
}

function decodeSignature(sig: Uint8Array): [bigint, bigint] | undefined {
  const b = Buffer.from(sig);
  if (b.length < 8 || b[0] !== 0x30 || b[1] !== b.length - 2) return undefined;
  let off = 2;
  const out: bigint[] = [];
  for (let i = 0; i < 2; i++) {
    if (b[off] !== 0x02) return undefined;
    const len = b[off + 1] ?? 0;
    if (len === 0 || len > 33 || off + 2 + len > b.length) return undefined;
    out.push(toBig(b.subarray(off + 2, off + 2 + len)));
    off += 2 + len;
  }
  if (off !== b.length) return undefined;
  return [out[0] ?? 0n, out[1] ?? 0n];
}

/** DER ECDSA signature over a 32-byte digest with a P-256 private key. */
export function signDigestP256(privateKey: KeyObject, digest: Uint8Array): Uint8Array {
  const d = b64url(privateKey.export({ format: 'jwk' }).d);
  const e = toBig(digest);
  for (;;) {
    const k = mod(toBig(randomBytes(40)), N - 1n) + 1n;
    const r = mod(affineX(multiply(k, [GX, GY, 1n])), N);
    if (r === 0n) continue;
    const s = mod(inv(k, N) * (e + r * d), N);
    if (s === 0n) continue;
    return encodeSignature(r, s);
  }
}

export function verifyDigestP256(publicKey: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  const rs = decodeSignature(signature);
  if (rs === undefined) return false;
  const [r, s] = rs;
  if (r <= 0n || r >= N || s <= 0n || s >= N) return false;
  const jwk = publicKey.export({ format: 'jwk' });
  const q: Jacobian = [b64url(jwk.x), b64url(jwk.y), 1n];
  const w = inv(s, N);
  const u1 = mod(toBig(digest) * w, N);
  const u2 = mod(r * w, N);
  const x = add(multiply(u1, [GX, GY, 1n]), multiply(u2, q));
  if (x[2] === 0n) return false;
  return mod(affineX(x), N) === r;
}
