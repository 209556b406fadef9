// Throughput of SHA-1DC (enclave/git/sha1dc.ts) against node:crypto's plain SHA-1 on the
// same 8 MiB buffer. A number to report, not a gate: `tsx bench/sha1dc.ts`.
import { createHash } from 'node:crypto';
import { sha1dc } from '../enclave/git/sha1dc.ts';

const SIZE = 8 * 1024 * 1024;
const ROUNDS = 5;
const data = new Uint8Array(SIZE);
for (let i = 0, s = 1; i < SIZE; i++) {
  s = (s * 1103515245 + 12345) >>> 0;
  data[i] = s >>> 24;
}

function mibPerSecond(fn: () => void): number {
  fn(); // warm up the JIT
  const start = process.hrtime.bigint();
  for (let r = 0; r < ROUNDS; r++) fn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return (SIZE * ROUNDS) / (1024 * 1024) / seconds;
}

const dc = mibPerSecond(() => sha1dc(data));
const native = mibPerSecond(() => createHash('sha1').update(data).digest());
console.log(JSON.stringify({ sha1dcMiBps: Math.round(dc), nodeCryptoSha1MiBps: Math.round(native), ratio: Number((native / dc).toFixed(1)) }));
