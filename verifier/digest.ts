// Digests as lowercase hex: the one home of sha256Hex for the whole project (the build,
// the simulator's SigV4, receipts and the pinned root all use it).
import { createHash } from 'node:crypto';

/** SHA-256 of bytes, or of a string's UTF-8 encoding, as lowercase hex. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-384 of bytes as lowercase hex (build inputs, EIF and PCR values). */
export function sha384Hex(data: Uint8Array | string): string {
  return createHash('sha384').update(data).digest('hex');
}
