import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CmsError, MAX_CMS_BYTES, openCiphertextForRecipient, parseCiphertextForRecipient } from './cms.ts';
import { codeOf as codeOfError } from '../test/error-codes.ts';

const fixtures = new URL('../test/fixtures/kms-recipient/', import.meta.url);
const read = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, fixtures)));
const vectors = JSON.parse(readFileSync(new URL('vectors.json', fixtures), 'utf8')) as Array<Record<string, string>>;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const codeOf = (fn: () => unknown): string => codeOfError(fn, CmsError);

describe('real KMS CiphertextForRecipient vectors', () => {
  it('opens the enclaver vector (real AWS KMS output) with its recipient key', () => {
    const v = vectors.find((x) => x.name === 'enclaver-1')!;
    const key = createPrivateKey(readFileSync(new URL(v.private_key_file!, fixtures)));
    const plaintext = openCiphertextForRecipient(read(v.ciphertext_file!), key);
    expect(hex(plaintext)).toBe(v.expected_plaintext_hex);
    expect(Buffer.from(plaintext).equals(Buffer.from(read(v.expected_plaintext_file!)))).toBe(true);
    const parsed = parseCiphertextForRecipient(read(v.ciphertext_file!));
    expect(hex(parsed.recipients[0]!.subjectKeyIdentifier)).toBe(v.recipient_subject_key_identifier_hex);
    expect(hex(parsed.iv)).toBe(v.iv_hex);
    expect(hex(parsed.encryptedContent)).toBe(v.encrypted_content_hex);
  });

  for (const name of ['sdk-c-1', 'sdk-c-2']) {
    it(`parses ${name} into the fields aws-nitro-enclaves-sdk-c expects`, () => {
      const v = vectors.find((x) => x.name === name)!;
      const parsed = parseCiphertextForRecipient(read(v.ciphertext_file!));
      expect(parsed.recipients).toHaveLength(1);
      expect(hex(parsed.recipients[0]!.encryptedKey)).toBe(v.expected_encrypted_key_hex);
      expect(hex(parsed.iv)).toBe(v.expected_iv_hex);
      expect(hex(parsed.encryptedContent)).toBe(v.expected_encrypted_content_hex);
    });
  }
});

describe('refusals', () => {
  const real = read('enclaver-ciphertext-for-recipient.ber');
  const key = createPrivateKey(readFileSync(new URL('enclaver-recipient-key.pem', fixtures)));

  it('another RSA key: CMS_NO_RECIPIENT', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect(codeOf(() => openCiphertextForRecipient(real, other))).toBe('CMS_NO_RECIPIENT');
  });

  it('a non-RSA or public key: CMS_NO_RECIPIENT', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    expect(codeOf(() => openCiphertextForRecipient(real, ec))).toBe('CMS_NO_RECIPIENT');
    const pub = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    expect(codeOf(() => openCiphertextForRecipient(real, pub))).toBe('CMS_NO_RECIPIENT');
  });

  it('truncated, garbage, trailing bytes: CMS_MALFORMED', () => {
    for (const cut of [1, 10, 100, real.length - 1]) {
      expect(codeOf(() => openCiphertextForRecipient(real.subarray(0, cut), key))).toBe('CMS_MALFORMED');
    }
    expect(codeOf(() => parseCiphertextForRecipient(new Uint8Array([1, 2, 3, 4])))).toBe('CMS_MALFORMED');
    expect(codeOf(() => parseCiphertextForRecipient(Buffer.concat([real, Buffer.of(0)])))).toBe('CMS_MALFORMED');
  });

  it('oversized input: CMS_TOO_LARGE', () => {
    expect(codeOf(() => parseCiphertextForRecipient(new Uint8Array(MAX_CMS_BYTES + 1)))).toBe('CMS_TOO_LARGE');
  });

  it('tampered encrypted content: CMS_DECRYPT_FAILED (bad padding) or wrong bytes, never the plaintext', () => {
    const t = Buffer.from(real);
    // Last byte of the content's final block (before the end-of-contents octets).
    const v = vectors.find((x) => x.name === 'enclaver-1')!;
    const at = t.indexOf(Buffer.from(v.encrypted_content_hex!, 'hex')) + 47;
    t[at] = (t[at] ?? 0) ^ 0x01;
    let out: Uint8Array | undefined;
    const code = codeOf(() => {
      out = openCiphertextForRecipient(t, key);
    });
    if (code === undefined) expect(hex(out!)).not.toBe(v.expected_plaintext_hex);
    else expect(code).toBe('CMS_DECRYPT_FAILED');
  });

  it('tampered encrypted key: CMS_NO_RECIPIENT', () => {
    const t = Buffer.from(real);
    const v = vectors.find((x) => x.name === 'enclaver-1')!;
    const off = Number(v.encrypted_key_offset) + 5;
    t[off] = (t[off] ?? 0) ^ 0x80;
    expect(codeOf(() => openCiphertextForRecipient(t, key))).toBe('CMS_NO_RECIPIENT');
  });
});

describe('mutation fuzzing', () => {
  it('byte flips, truncations and insertions of the real vector only ever raise CmsError', () => {
    const real = read('enclaver-ciphertext-for-recipient.ber');
    const key = createPrivateKey(readFileSync(new URL('enclaver-recipient-key.pem', fixtures)));
    let seed = 7;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const codes = new Set<string>();
    for (let i = 0; i < 800; i++) {
      let m = Buffer.from(real);
      const kind = rand(3);
      if (kind === 0) for (let j = 0, n = 1 + rand(4); j < n; j++) { const at = rand(m.length); m[at] = rand(256); }
      else if (kind === 1) m = m.subarray(0, rand(m.length));
      else { const at = rand(m.length); m = Buffer.concat([m.subarray(0, at), Buffer.from([rand(256), rand(256)]), m.subarray(at)]); }
      try {
        openCiphertextForRecipient(m, key);
        codes.add('opened');
      } catch (e) {
        if (!(e instanceof CmsError)) throw new Error(`mutation ${i} (kind ${kind}) raised ${String(e)}`);
        codes.add(e.code);
      }
    }
    expect(codes.has('CMS_MALFORMED')).toBe(true);
  });
});
