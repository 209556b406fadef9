import { readFileSync } from 'node:fs';
import { Decoder } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { KEY_USAGE_DIGITAL_SIGNATURE, KEY_USAGE_KEY_CERT_SIGN, parseCertificate } from './certificate.ts';
import { verifyCertificatePath } from './chain.ts';
import { readBoolean, readElement, readSmallUnsigned, readTime } from './der.ts';
import { isVerificationError, VerificationError } from './errors.ts';
import { encode, makeChain, x509 } from './test-documents.ts';
import { codeOf as codeOfError } from '../test/error-codes.ts';

const codeOf = (fn: () => unknown): string => codeOfError(fn, VerificationError);
const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// A real AWS chain, read with an independent decoder.
const cborx = new Decoder({ mapsAsObjects: false, useRecords: false });
const doc = readFileSync(new URL('../test/fixtures/nitro/docs/anjuna-1.cbor', import.meta.url));
const payload = cborx.decode((cborx.decode(doc) as Uint8Array[])[2] as Uint8Array) as Map<string, unknown>;
const LEAF = new Uint8Array(payload.get('certificate') as Uint8Array);
const BUNDLE = (payload.get('cabundle') as Uint8Array[]).map((c) => new Uint8Array(c));
const ECDSA_SHA384_OID = hex('2a8648ce3d040303');

function indexOfBytes(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  return Buffer.from(hay).indexOf(Buffer.from(needle), from);
}

describe('parseCertificate on the real AWS chain', () => {
  it('reads names, validity, constraints and key usage', () => {
    const root = parseCertificate(BUNDLE[0] as Uint8Array, 'root');
    expect(root.isCa).toBe(true);
    expect(root.pathLenConstraint).toBeUndefined();
    expect(root.subjectText).toBe('C=US, O=Amazon, OU=AWS, CN=aws.nitro-enclaves');
    expect(root.notBefore).toBe(Date.UTC(2019, 9, 28, 13, 28, 5));
    expect(root.notAfter).toBe(Date.UTC(2049, 9, 28, 14, 28, 5));
    expect((root.keyUsage as number) & KEY_USAGE_KEY_CERT_SIGN).not.toBe(0);
    expect([2, 1, 0]).toEqual(BUNDLE.slice(1).map((c) => parseCertificate(c, 'ca').pathLenConstraint));
    const leaf = parseCertificate(LEAF, 'leaf');
    expect(leaf.isCa).toBe(false);
    expect((leaf.keyUsage as number) & KEY_USAGE_DIGITAL_SIGNATURE).not.toBe(0);
    expect(leaf.signatureAlgorithm).toBe('ecdsa-with-SHA384');
    expect(leaf.notAfter - leaf.notBefore).toBe(3 * 3600 * 1000);
  });

  it('CERT_MALFORMED: truncated, trailing bytes, not DER, empty', () => {
    expect(codeOf(() => parseCertificate(LEAF.subarray(0, LEAF.length - 1), 'leaf'))).toBe('CERT_MALFORMED');
    expect(codeOf(() => parseCertificate(new Uint8Array([...LEAF, 0]), 'leaf'))).toBe('CERT_MALFORMED');
    expect(codeOf(() => parseCertificate(new TextEncoder().encode('-----BEGIN CERTIFICATE-----'), 'leaf'))).toBe('CERT_MALFORMED');
    expect(codeOf(() => parseCertificate(new Uint8Array(0), 'leaf'))).toBe('CERT_MALFORMED');
  });

  it('CERT_MALFORMED: inner signature algorithm differs from the outer one', () => {
    const bad = new Uint8Array(LEAF);
    const at = indexOfBytes(bad, ECDSA_SHA384_OID);
    bad[at + ECDSA_SHA384_OID.length - 1] = 0x02; // tbsCertificate.signature → ecdsa-with-SHA256
    expect(codeOf(() => parseCertificate(bad, 'leaf'))).toBe('CERT_MALFORMED');
  });

  it('an algorithm outside ECDSA/SHA-2 parses but is marked unsupported (the chain refuses it)', () => {
    const bad = new Uint8Array(LEAF);
    const first = indexOfBytes(bad, ECDSA_SHA384_OID);
    const second = indexOfBytes(bad, ECDSA_SHA384_OID, first + 1);
    bad[first + 7] = 0x01; // ecdsa-with-SHA224, both places
    bad[second + 7] = 0x01;
    expect(parseCertificate(bad, 'leaf').signatureAlgorithm).toBeUndefined();
    try {
      verifyCertificatePath(bad, BUNDLE);
      throw new Error('accepted');
    } catch (e) {
      expect(isVerificationError(e) && e.code).toBe('CHAIN_INVALID');
      expect((e as Error).message).toContain('algorithm');
    }
  });

  it('CERT_MALFORMED: a bad validity time', () => {
    const bad = new Uint8Array(LEAF);
    const at = indexOfBytes(bad, new TextEncoder().encode('210317'));
    bad[at + 2] = 0x31; // month 13
    bad[at + 3] = 0x33;
    expect(codeOf(() => parseCertificate(bad, 'leaf'))).toBe('CERT_MALFORMED');
  });

  it('CERT_MALFORMED: a duplicated extension', async () => {
    const dup = await makeChain({ leaf: { extensions: [new x509.BasicConstraintsExtension(false, undefined, true)] } });
    expect(codeOf(() => parseCertificate(dup.leaf.der, 'leaf'))).toBe('CERT_MALFORMED');
  });

  it('CERT_CONSTRAINTS: an unknown critical extension; a non-critical one is fine', async () => {
    const critical = await makeChain({ leaf: { extensions: [new x509.Extension('1.3.6.1.4.1.99999.3', true, encode(null))] } });
    expect(codeOf(() => parseCertificate(critical.leaf.der, 'leaf'))).toBe('CERT_CONSTRAINTS');
    const plain = await makeChain({ leaf: { extensions: [new x509.Extension('1.3.6.1.4.1.99999.3', false, encode(null))] } });
    expect(parseCertificate(plain.leaf.der, 'leaf').isCa).toBe(false);
  });
});

describe('DER reader', () => {
  it.each([
    ['indefinite length', '3080 0000'],
    ['non-minimal long form (< 128 in long form)', '308105 0101ff0000'],
    ['non-minimal long form (leading zero)', '30820005 0000000000'],
    ['length past the container', '3005 0000'],
    ['multi-byte tag', '1f2001 00'],
    ['truncated', '30'],
  ])('refuses %s with CERT_MALFORMED', (_name, h) => {
    const bytes = hex(h);
    expect(codeOf(() => readElement(bytes, 0, bytes.length))).toBe('CERT_MALFORMED');
  });

  it('reads BOOLEAN strictly (0x00 or 0xff only)', () => {
    expect(readBoolean(hex('0101ff'), readElement(hex('0101ff'), 0, 3))).toBe(true);
    expect(codeOf(() => readBoolean(hex('010101'), readElement(hex('010101'), 0, 3)))).toBe('CERT_MALFORMED');
  });

  it('reads small INTEGERs strictly (no negative, no padding)', () => {
    expect(readSmallUnsigned(hex('020102'), readElement(hex('020102'), 0, 3))).toBe(2);
    expect(readSmallUnsigned(hex('02020080'), readElement(hex('02020080'), 0, 4))).toBe(128);
    expect(codeOf(() => readSmallUnsigned(hex('0201ff'), readElement(hex('0201ff'), 0, 3)))).toBe('CERT_MALFORMED');
    expect(codeOf(() => readSmallUnsigned(hex('02020001'), readElement(hex('02020001'), 0, 4)))).toBe('CERT_MALFORMED');
  });

  it('reads UTCTime and GeneralizedTime, refusing impossible dates and other forms', () => {
    const t = (tag: number, s: string): Uint8Array => new Uint8Array([tag, s.length, ...new TextEncoder().encode(s)]);
    const read = (b: Uint8Array): number => readTime(b, readElement(b, 0, b.length));
    expect(read(t(0x17, '491028142805Z'))).toBe(Date.UTC(2049, 9, 28, 14, 28, 5));
    expect(read(t(0x17, '500101000000Z'))).toBe(Date.UTC(1950, 0, 1));
    expect(read(t(0x18, '20500101000000Z'))).toBe(Date.UTC(2050, 0, 1));
    for (const bad of [t(0x17, '250230000000Z'), t(0x17, '2501010000Z'), t(0x17, '250101000000+0100'), t(0x18, '2050010100000Z'), t(0x04, '250101000000Z')]) {
      expect(codeOf(() => read(bad))).toBe('CERT_MALFORMED');
    }
  });
});
