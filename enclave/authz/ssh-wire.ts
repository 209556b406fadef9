// The SSH wire encoding (RFC 4251 §5) as sshsig and OpenSSH public keys use it: a strict
// reader (every length checked, nothing left over) and the two key types we accept, turned
// into node:crypto keys. Anything else is refused by the caller with SSHSIG_INVALID.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { edgeFail } from './edge-error.ts';

/** Reads SSH `byte[n]`, `uint32`, `string` and `mpint` values; refuses any overrun. */
export class SshReader {
  private offset = 0;
  private readonly bytes: Uint8Array;
  private readonly what: string;

  constructor(bytes: Uint8Array, what: string) {
    this.bytes = bytes;
    this.what = what;
  }

  raw(n: number): Uint8Array {
    if (n > this.bytes.length - this.offset) edgeFail('SSHSIG_INVALID', `${this.what} is truncated`);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  uint32(): number {
    const b = this.raw(4);
    return (((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0;
  }

  string(): Uint8Array {
    return this.raw(this.uint32());
  }

  /** A string that must be printable ASCII (algorithm names, namespaces). */
  text(): string {
    const b = this.string();
    if (b.length > 256 || b.some((c) => c < 0x20 || c > 0x7e)) edgeFail('SSHSIG_INVALID', `${this.what} has a non-ASCII name field`);
    return Buffer.from(b).toString('latin1');
  }

  /** A positive mpint, minimally encoded (RFC 4251: no needless leading zero byte). */
  positiveMpint(maxBytes: number): Uint8Array {
    const b = this.string();
    if (b.length === 0 || (b[0] ?? 0) >= 0x80) edgeFail('SSHSIG_INVALID', `${this.what} has a zero or negative integer`);
    if (b[0] === 0 && (b.length === 1 || (b[1] ?? 0) < 0x80)) edgeFail('SSHSIG_INVALID', `${this.what} has a non-minimal integer`);
    const v = b[0] === 0 ? b.subarray(1) : b;
    if (v.length > maxBytes) edgeFail('SSHSIG_INVALID', `${this.what} has an integer longer than ${maxBytes} bytes`);
    return v;
  }

  end(): void {
    if (this.offset !== this.bytes.length) edgeFail('SSHSIG_INVALID', `${this.what} has ${this.bytes.length - this.offset} trailing bytes`);
  }
}

export type SshKeyType = 'ssh-ed25519' | 'ecdsa-sha2-nistp256';

export interface SshPublicKey {
  type: SshKeyType;
  /** The wire blob: what fingerprints hash and what allowlists compare. */
  blob: Uint8Array;
  key: KeyObject;
}

const b64url = (b: Uint8Array) => Buffer.from(b).toString('base64url');

/** Parse a public key blob of a supported type; other types are refused by name. */
export function parseSshPublicKey(blob: Uint8Array): SshPublicKey {
  const r = new SshReader(blob, 'SSH public key');
  const type = r.text();
  if (type === 'ssh-ed25519') {
    const pk = r.string();
    r.end();
    if (pk.length !== 32) edgeFail('SSHSIG_INVALID', 'ssh-ed25519 public key is not 32 bytes');
    return { type, blob, key: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(pk) }, format: 'jwk' }) };
  }
  if (type === 'ecdsa-sha2-nistp256') {
    const curve = r.text();
    const q = r.string();
    r.end();
    if (curve !== 'nistp256' || q.length !== 65 || q[0] !== 0x04) edgeFail('SSHSIG_INVALID', 'ecdsa-sha2-nistp256 key is not an uncompressed nistp256 point');
    const jwk = { kty: 'EC', crv: 'P-256', x: b64url(q.subarray(1, 33)), y: b64url(q.subarray(33)) };
    try {
      return { type, blob, key: createPublicKey({ key: jwk, format: 'jwk' }) };
    } catch {
      return edgeFail('SSHSIG_INVALID', 'ecdsa-sha2-nistp256 key is not a point on the curve');
    }
  }
  return edgeFail('SSHSIG_INVALID', `SSH key type '${type}' is not supported (only ssh-ed25519 and ecdsa-sha2-nistp256)`);
}
