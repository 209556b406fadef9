import { describe, expect, it } from 'vitest';
import { Encrypter, generateHybridIdentity, generateIdentity, identityToRecipient } from 'age-encryption';
import { decodeAgeIdentity, decryptAgeNative, nativeIdentity } from './age-native.ts';

async function encrypt(plain: Uint8Array, recipients: string[]): Promise<Uint8Array> {
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  return e.encrypt(plain);
}

function ids(...s: string[]): NonNullable<ReturnType<typeof nativeIdentity>>[] {
  return s.map((x) => {
    const n = nativeIdentity(x);
    if (n === undefined) throw new Error('identity not parsed');
    return n;
  });
}

describe('native age X25519 decryption', () => {
  it('opens files made by the age-encryption library, across chunk boundaries and recipients', async () => {
    const a = await generateIdentity();
    const b = await generateIdentity();
    const recipients = [await identityToRecipient(b), await identityToRecipient(a)];
    for (const size of [0, 1, 32, 65536, 65537, 200_000]) {
      const plain = Uint8Array.from({ length: size }, (_, i) => (i * 31) & 0xff);
      const file = await encrypt(plain, recipients);
      const r = decryptAgeNative(file, ids(a));
      expect(r.kind).toBe('plaintext');
      if (r.kind === 'plaintext') expect(Buffer.compare(r.plaintext, Buffer.from(plain))).toBe(0);
    }
  });

  it('reports no-match for another identity, and refuses tampering', async () => {
    const a = await generateIdentity();
    const file = await encrypt(new Uint8Array(32).fill(9), [await identityToRecipient(a)]);
    expect(decryptAgeNative(file, ids(await generateIdentity())).kind).toBe('no-match');
    const macFlip = Buffer.from(file);
    const macAt = macFlip.indexOf('\n--- ') + 5;
    macFlip[macAt] = macFlip[macAt] === 0x41 ? 0x42 : 0x41;
    expect(() => decryptAgeNative(macFlip, ids(a))).toThrow();
    const payloadFlip = Buffer.from(file);
    payloadFlip[payloadFlip.length - 1] = (payloadFlip[payloadFlip.length - 1] ?? 0) ^ 1;
    expect(() => decryptAgeNative(payloadFlip, ids(a))).toThrow();
    const truncated = Buffer.from(file).subarray(0, file.length - 1);
    expect(() => decryptAgeNative(truncated, ids(a))).toThrow();
  });

  it('leaves other stanza types and identity kinds to the library', async () => {
    const pq = await generateHybridIdentity();
    const file = await encrypt(new Uint8Array(8), [await identityToRecipient(pq)]);
    expect(nativeIdentity(pq)).toBeUndefined();
    expect(decryptAgeNative(file, ids(await generateIdentity())).kind).toBe('unsupported');
    expect(decryptAgeNative(new TextEncoder().encode('not an age file'), []).kind).toBe('unsupported');
  });

  it('checks the bech32 checksum of identities', async () => {
    const a = await generateIdentity();
    expect(decodeAgeIdentity(a)).toHaveLength(32);
    const last = a.at(-1) === 'Q' ? 'P' : 'Q';
    expect(decodeAgeIdentity(a.slice(0, -1) + last)).toBeUndefined();
    expect(decodeAgeIdentity(a.toLowerCase())).toBeUndefined();
  });
});
