import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { coseSign1SigStructure, parseCoseSign1, verifyCoseSign1Es384 } from './cose.ts';
import { VerificationError } from './errors.ts';
import { encode, IndefiniteMap, PROTECTED_ES384, Raw, sigStructure, Tagged, type Encodable } from './test-documents.ts';
import { codeOf as codeOfError } from '../test/error-codes.ts';

const codeOf = (fn: () => unknown): string => codeOfError(fn, VerificationError);

const payload = encode(new Map<Encodable, Encodable>([['a', 1]]));
const sig96 = new Uint8Array(96).fill(7);
const cose = (parts: Encodable[]): Uint8Array => encode(parts);

describe('COSE_Sign1 structure', () => {
  it('parses untagged and tag-18 documents and keeps the original bytes', () => {
    const untagged = parseCoseSign1(cose([PROTECTED_ES384, new Map(), payload, sig96]));
    expect(untagged.tagged).toBe(false);
    expect([...untagged.payload]).toEqual([...payload]);
    const tagged = parseCoseSign1(encode(new Tagged(18, [PROTECTED_ES384, new Map(), payload, sig96])));
    expect(tagged.tagged).toBe(true);
  });

  it.each<[string, Uint8Array]>([
    ['not an array', encode(new Map())],
    ['three elements', cose([PROTECTED_ES384, new Map(), payload])],
    ['five elements', cose([PROTECTED_ES384, new Map(), payload, sig96, null])],
    ['another tag (17 = COSE_Mac0)', encode(new Tagged(17, [PROTECTED_ES384, new Map(), payload, sig96]))],
    ['tag 18 twice', encode(new Tagged(18, new Tagged(18, [PROTECTED_ES384, new Map(), payload, sig96])))],
    ['protected header not a bstr', cose([new Map<Encodable, Encodable>([[1, -35]]), new Map(), payload, sig96])],
    ['empty protected header', cose([new Uint8Array(0), new Map(), payload, sig96])],
    ['protected header not a map', cose([encode([1, -35]), new Map(), payload, sig96])],
    ['protected header without alg', cose([encode(new Map<Encodable, Encodable>([[4, new Uint8Array(1)]])), new Map(), payload, sig96])],
    ['protected header with an extra entry', cose([encode(new Map<Encodable, Encodable>([[1, -35], [4, new Uint8Array(1)]])), new Map(), payload, sig96])],
    ['unprotected header null', cose([PROTECTED_ES384, null, payload, sig96])],
    ['unprotected header not empty', cose([PROTECTED_ES384, new Map<Encodable, Encodable>([[4, new Uint8Array(2)]]), payload, sig96])],
    ['detached (nil) payload', cose([PROTECTED_ES384, new Map(), null, sig96])],
    ['payload as text', cose([PROTECTED_ES384, new Map(), 'payload', sig96])],
    ['signature not a bstr', cose([PROTECTED_ES384, new Map(), payload, 'sig'])],
    ['signature 16 bytes', cose([PROTECTED_ES384, new Map(), payload, new Uint8Array(16)])],
    ['signature DER-length (103 bytes)', cose([PROTECTED_ES384, new Map(), payload, new Uint8Array(103)])],
  ])('refuses %s with MALFORMED_COSE', (_name, bytes) => {
    expect(codeOf(() => parseCoseSign1(bytes))).toBe('MALFORMED_COSE');
  });

  it('refuses malformed CBOR in the protected header with MALFORMED_CBOR', () => {
    expect(codeOf(() => parseCoseSign1(cose([Uint8Array.of(0xa1, 0x01, 0x18, 0x01), new Map(), payload, sig96])))).toBe('MALFORMED_CBOR');
  });

  it.each<[Encodable, string]>([[-7, 'ES256'], [-36, 'ES512'], [-37, 'PS256'], ['ES384', 'a text alg']])('refuses alg %s (%s) with UNSUPPORTED_ALGORITHM', (alg) => {
    const prot = encode(new Map<Encodable, Encodable>([[1, alg]]));
    expect(codeOf(() => parseCoseSign1(cose([prot, new Map(), payload, sig96])))).toBe('UNSUPPORTED_ALGORITHM');
  });

  it('accepts an indefinite-length protected map with the right content (signed as is)', () => {
    const prot = encode(new IndefiniteMap([[1, -35]]));
    expect(parseCoseSign1(cose([prot, new Map(), payload, sig96])).protectedHeader).toEqual(prot);
  });

  it('refuses trailing bytes after the item with MALFORMED_CBOR', () => {
    const bytes = encode([[PROTECTED_ES384, new Map(), payload, sig96] as Encodable, new Raw(new Uint8Array(0))][0] as Encodable);
    const withTrailer = new Uint8Array([...bytes, 0x00]);
    expect(codeOf(() => parseCoseSign1(withTrailer))).toBe('MALFORMED_CBOR');
  });
});

describe('Sig_structure and ES384', () => {
  it('builds ["Signature1", protected, h"", payload] like an independent encoder', () => {
    expect(Buffer.from(coseSign1SigStructure(PROTECTED_ES384, payload)).equals(sigStructure(PROTECTED_ES384, payload))).toBe(true);
    const big = new Uint8Array(70000).fill(1);
    expect(Buffer.from(coseSign1SigStructure(PROTECTED_ES384, big)).equals(sigStructure(PROTECTED_ES384, big))).toBe(true);
  });

  it('verifies a P-384 signature over the original bytes and rejects others without throwing', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const { sign } = await import('node:crypto');
    const signature = new Uint8Array(sign('sha384', coseSign1SigStructure(PROTECTED_ES384, payload), { key: privateKey, dsaEncoding: 'ieee-p1363' }));
    const parsed = parseCoseSign1(cose([PROTECTED_ES384, new Map(), payload, signature]));
    expect(verifyCoseSign1Es384(parsed, publicKey)).toBe(true);
    expect(verifyCoseSign1Es384({ ...parsed, payload: new Uint8Array([...payload, 0]) }, publicKey)).toBe(false);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    expect(verifyCoseSign1Es384(parsed, other)).toBe(false);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expect(verifyCoseSign1Es384(parsed, rsa)).toBe(false);
  });
});
