// The SOPS MAC: SHA-512 over the plaintext bytes of every leaf in document order (comments
// and nulls skipped), or, with mac_only_encrypted, over encrypted leaves only after a
// fixed 32-byte prefix (SHA-256 of "sops"). Stored as uppercase hex, encrypted as a str
// with the lastmodified string as AAD.
import { createHash, timingSafeEqual, type Hash } from 'node:crypto';

/** sha256("sops"): sops' MACOnlyEncryptedInitialization. */
const MAC_ONLY_ENCRYPTED_INIT = createHash('sha256').update('sops').digest();

export class MacBuilder {
  private readonly hash: Hash;
  readonly onlyEncrypted: boolean;

  constructor(onlyEncrypted: boolean) {
    this.onlyEncrypted = onlyEncrypted;
    this.hash = createHash('sha512');
    if (onlyEncrypted) this.hash.update(MAC_ONLY_ENCRYPTED_INIT);
  }

  add(encrypted: boolean, bytes: string | Uint8Array): void {
    if (this.onlyEncrypted && !encrypted) return;
    this.hash.update(bytes);
  }

  hex(): string {
    return this.hash.digest('hex').toUpperCase();
  }
}

export function macEquals(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
