// SHA-1 with collision detection (SHA-1DC), as git hashes sha1 repositories since 2.13:
// Stevens & Shumow, "Speeding up detection of SHA-1 collision attacks using unavoidable
// attack conditions" (USENIX Security 2017). For every 64-byte block, the expanded message
// is checked against the unavoidable bit conditions of the 32 disturbance vectors that all
// known practical attacks use (sha1dc-ubc.ts); for each candidate vector the block is
// recompressed with that vector's message difference from the stored state at step 58 or
// 65, and if the paired block reaches the same output chaining value, this block is one
// half of a collision attack. Git then refuses the object; so do we.
//
// Why a port and not a package: no maintained SHA-1DC exists as pure JS or wasm on the npm
// registry (the Rust `sha1dc` crate and the reference C library are not usable from Node
// without a native build step, which the enclave image does not have). This file ports
// lib/sha1.c of cr-marcstevens/sha1collisiondetection (commit b4a7b0b1, MIT) with the same
// defaults git uses: UBC filtering on, reduced-round detection off, and it reports the
// standard SHA-1 digest (safe-hash mode only matters to callers that keep going after a
// detection; we refuse instead). The step-unrolled C is written here as loops over a
// normalised (a, b, c, d, e) state, which is the same arithmetic.
import { SHA1_DVS, ubcCheck } from './sha1dc-ubc.ts';

export interface Sha1dcResult {
  /** The standard SHA-1 digest (20 bytes). */
  digest: Uint8Array;
  /** True when some block is one half of a (near-)collision attack on full SHA-1. */
  collision: boolean;
}

const K = [0x5a827999, 0x6ed9eba1, 0x8f1bbcdc, 0xca62c1d6] as const;

const rotl = (x: number, n: number): number => (x << n) | (x >>> (32 - n));

/** Round function f_t(b, c, d) + K_t for step t. */
function fk(t: number, b: number, c: number, d: number): number {
  if (t < 20) return ((d ^ (b & (c ^ d))) + K[0]) | 0;
  if (t < 40) return ((b ^ c ^ d) + K[1]) | 0;
  if (t < 60) return (((b & c) | (d & (b | c))) + K[2]) | 0;
  return ((b ^ c ^ d) + K[3]) | 0;
}

/** Per-hash working memory, reused across blocks. */
interface Work {
  ihv: Uint32Array;
  w: Int32Array;
  w2: Int32Array;
  /** States before steps 58 and 65 of the current block (the DVs' `testt`). */
  state58: Uint32Array;
  state65: Uint32Array;
  collision: boolean;
}

function expand(w: Int32Array, block: Uint8Array, off: number): void {
  for (let t = 0; t < 16; t++) {
    const i = off + 4 * t;
    w[t] = ((block[i] ?? 0) << 24) | ((block[i + 1] ?? 0) << 16) | ((block[i + 2] ?? 0) << 8) | (block[i + 3] ?? 0);
  }
  for (let t = 16; t < 80; t++) w[t] = rotl((w[t - 3] ?? 0) ^ (w[t - 8] ?? 0) ^ (w[t - 14] ?? 0) ^ (w[t - 16] ?? 0), 1);
}

/**
 * sha1_compression_states: the compression of one expanded block into work.ihv, storing
 * the states before steps 58 and 65. The hot path, so one loop per round function.
 */
function compressStoringStates(work: Work): void {
  const { ihv, w, state58, state65 } = work;
  let a = ihv[0] ?? 0, b = ihv[1] ?? 0, c = ihv[2] ?? 0, d = ihv[3] ?? 0, e = ihv[4] ?? 0;
  let t = 0;
  for (; t < 20; t++) {
    const tmp = (rotl(a, 5) + (d ^ (b & (c ^ d))) + e + 0x5a827999 + (w[t] ?? 0)) | 0;
    e = d; d = c; c = rotl(b, 30); b = a; a = tmp;
  }
  for (; t < 40; t++) {
    const tmp = (rotl(a, 5) + (b ^ c ^ d) + e + 0x6ed9eba1 + (w[t] ?? 0)) | 0;
    e = d; d = c; c = rotl(b, 30); b = a; a = tmp;
  }
  for (; t < 60; t++) {
    if (t === 58) { state58[0] = a; state58[1] = b; state58[2] = c; state58[3] = d; state58[4] = e; }
    const tmp = (rotl(a, 5) + ((b & c) | (d & (b | c))) + e + -0x70e44324 + (w[t] ?? 0)) | 0;
    e = d; d = c; c = rotl(b, 30); b = a; a = tmp;
  }
  for (; t < 80; t++) {
    if (t === 65) { state65[0] = a; state65[1] = b; state65[2] = c; state65[3] = d; state65[4] = e; }
    const tmp = (rotl(a, 5) + (b ^ c ^ d) + e + -0x359d3e2a + (w[t] ?? 0)) | 0;
    e = d; d = c; c = rotl(b, 30); b = a; a = tmp;
  }
  ihv[0] = ((ihv[0] ?? 0) + a) | 0; ihv[1] = ((ihv[1] ?? 0) + b) | 0; ihv[2] = ((ihv[2] ?? 0) + c) | 0;
  ihv[3] = ((ihv[3] ?? 0) + d) | 0; ihv[4] = ((ihv[4] ?? 0) + e) | 0;
}

/** Steps from..79 forward from state s (in place), with message words w. */
function forward(s: Uint32Array, w: Int32Array, from: number): void {
  let a = s[0] ?? 0, b = s[1] ?? 0, c = s[2] ?? 0, d = s[3] ?? 0, e = s[4] ?? 0;
  for (let t = from; t < 80; t++) {
    const tmp = (rotl(a, 5) + fk(t, b, c, d) + e + (w[t] ?? 0)) | 0;
    e = d;
    d = c;
    c = rotl(b, 30);
    b = a;
    a = tmp;
  }
  s.set([a, b, c, d, e]);
}

/** Steps to−1 .. 0 backward from the state before step `to` (in place). */
function backward(s: Uint32Array, w: Int32Array, to: number): void {
  let a = s[0] ?? 0, b = s[1] ?? 0, c = s[2] ?? 0, d = s[3] ?? 0, e = s[4] ?? 0;
  for (let t = to - 1; t >= 0; t--) {
    const pa = b, pb = rotl(c, 2), pc = d, pd = e;
    const pe = (a - rotl(pa, 5) - fk(t, pb, pc, pd) - (w[t] ?? 0)) | 0;
    a = pa;
    b = pb;
    c = pc;
    d = pd;
    e = pe;
  }
  s.set([a, b, c, d, e]);
}

/**
 * sha1_recompression_step: from the original block's state before step `testt`, compute
 * the input and output chaining values of the paired block (message words me2) and say
 * whether it reaches the same output as the original.
 */
function pairedBlockCollides(testt: number, me2: Int32Array, state: Uint32Array, ihvOut: Uint32Array): boolean {
  const ihvIn = Uint32Array.from(state);
  backward(ihvIn, me2, testt);
  const out = Uint32Array.from(state);
  forward(out, me2, testt);
  for (let i = 0; i < 5; i++) if ((((ihvIn[i] ?? 0) + (out[i] ?? 0)) | 0) !== ((ihvOut[i] ?? 0) | 0)) return false;
  return true;
}

function processBlock(work: Work, block: Uint8Array, off: number): void {
  const { ihv, w, w2 } = work;
  expand(w, block, off);
  compressStoringStates(work);
  const mask = ubcCheck(w);
  if (mask === 0) return;
  for (const dv of SHA1_DVS) {
    if ((mask & (1 << dv.maskb)) === 0) continue;
    for (let j = 0; j < 80; j++) w2[j] = (w[j] ?? 0) ^ (dv.dm[j] ?? 0);
    const state = dv.testt === 58 ? work.state58 : dv.testt === 65 ? work.state65 : undefined;
    if (state === undefined) throw new Error(`sha1dc: no stored state for step ${dv.testt}`);
    if (pairedBlockCollides(dv.testt, w2, state, ihv)) {
      work.collision = true;
      return;
    }
  }
}

/** SHA-1 of `data` with collision detection (one shot). */
export function sha1dc(data: Uint8Array): Sha1dcResult {
  const work: Work = {
    ihv: Uint32Array.of(0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0),
    w: new Int32Array(80),
    w2: new Int32Array(80),
    state58: new Uint32Array(5),
    state65: new Uint32Array(5),
    collision: false,
  };
  const full = data.length - (data.length % 64);
  for (let off = 0; off < full; off += 64) processBlock(work, data, off);
  // Padding: 0x80, zeros, then the bit length as a 64-bit big-endian integer.
  const rest = data.length - full;
  const tail = new Uint8Array(rest < 56 ? 64 : 128);
  tail.set(data.subarray(full));
  tail[rest] = 0x80;
  const view = new DataView(tail.buffer);
  view.setUint32(tail.length - 8, Math.floor(data.length / 0x20000000));
  view.setUint32(tail.length - 4, (data.length * 8) >>> 0);
  for (let off = 0; off < tail.length; off += 64) processBlock(work, tail, off);
  const digest = new Uint8Array(20);
  const out = new DataView(digest.buffer);
  for (let i = 0; i < 5; i++) out.setUint32(4 * i, work.ihv[i] ?? 0);
  return { digest, collision: work.collision };
}
