// The simulated issuer must produce documents a strict NSM-format reader accepts and that
// verify with independent code (node:crypto, OpenSSL CLI) — never with the issuer's helpers.
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, Encoder, Tag } from 'cbor-x';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isVerificationError, parseAttestationDocument, verifyAttestationDocument, type VerifyAttestationOptions } from '../verifier/index.ts';
import { createTestCa, DEFAULT_MODULE_ID, type TestCa } from './attestation-issuer.ts';

const enc = new Encoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false });
const T0 = Date.UTC(2026, 10, 23, 10, 0, 0, 123);
const pcr0 = new Uint8Array(48).fill(0xa0);
const pcr1 = new Uint8Array(48).fill(0xa1);
const pcr2 = new Uint8Array(48).fill(0xa2);

interface Decoded {
  tagged: boolean;
  protectedHeader: Uint8Array;
  unprotected: unknown;
  payload: Uint8Array;
  signature: Uint8Array;
  fields: Map<string, unknown>;
}

function decodeDoc(bytes: Uint8Array): Decoded {
  let top: unknown = decode(bytes);
  let tagged = false;
  if (top instanceof Tag) {
    expect(top.tag).toBe(18);
    tagged = true;
    top = top.value;
  }
  expect(Array.isArray(top)).toBe(true);
  const [protectedHeader, unprotected, payload, signature] = top as [Uint8Array, unknown, Uint8Array, Uint8Array];
  const fields = new Encoder({ useRecords: false, mapsAsObjects: false }).decode(payload) as Map<string, unknown>;
  return { tagged, protectedHeader, unprotected, payload, signature, fields };
}

function sigStructure(d: Decoded): Uint8Array {
  // Built here independently of the issuer: RFC 9052 §4.4.
  return enc.encode(['Signature1', d.protectedHeader, new Uint8Array(0), d.payload]);
}

function verifyCoseWithNode(d: Decoded): boolean {
  const leaf = new X509Certificate(d.fields.get('certificate') as Uint8Array);
  return cryptoVerify('sha384', sigStructure(d), { key: leaf.publicKey, dsaEncoding: 'ieee-p1363' }, d.signature);
}

let ca: TestCa;
beforeAll(async () => {
  ca = await createTestCa({ now: () => T0 });
});

describe('simulated attestation issuer', () => {
  it('issues an NSM-shaped, definite-length, untagged document by default', async () => {
    const userData = new Uint8Array(48).fill(7);
    const nonce = Uint8Array.of(1, 2, 3, 4);
    const bytes = await ca.issue({ pcrs: new Map([[0, pcr0], [1, pcr1], [2, pcr2]]), userData, nonce });
    expect(bytes[0]).toBe(0x84); // array(4), no tag
    const d = decodeDoc(bytes);
    expect(d.tagged).toBe(false);
    expect(Buffer.from(d.protectedHeader).toString('hex')).toBe('a1013822'); // {1: -35}
    // Unprotected header: the empty map right after the 5-byte protected bstr.
    expect(bytes[6]).toBe(0xa0);
    expect(d.unprotected === null || typeof d.unprotected !== 'object' ? 'not-a-map' : Object.keys(d.unprotected).length).toBe(0);
    expect(d.signature.length).toBe(96);
    expect(d.payload[0]).toBe(0xa9); // definite map of 9
    expect([...d.fields.keys()]).toEqual([
      'module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle', 'public_key', 'user_data', 'nonce',
    ]);
    expect(d.fields.get('module_id')).toBe(DEFAULT_MODULE_ID);
    expect(d.fields.get('digest')).toBe('SHA384');
    expect(Number(d.fields.get('timestamp'))).toBe(T0);
    expect(d.fields.get('public_key')).toBeNull();
    expect(Buffer.from(d.fields.get('user_data') as Uint8Array)).toEqual(Buffer.from(userData));
    expect(Buffer.from(d.fields.get('nonce') as Uint8Array)).toEqual(Buffer.from(nonce));
    expect(verifyCoseWithNode(d)).toBe(true);
  });

  it('encodes the timestamp as a CBOR unsigned integer, as NSM does', async () => {
    const d = decodeDoc(await ca.issue({ pcrs: new Map() }));
    const ts = enc.encode('timestamp');
    const at = Buffer.from(d.payload).indexOf(Buffer.from(ts)) + ts.length;
    expect(d.payload[at]).toBe(0x1b); // major type 0, 8-byte argument
    expect(Buffer.from(d.payload.subarray(at + 1, at + 9)).readBigUInt64BE()).toBe(BigInt(T0));
  });

  it('fills PCRs 0..15, zero by default, PCR4 = SHA-384(zeros ‖ instance id)', async () => {
    const moduleId = 'i-0123456789abcdef0-enc0123456789abcdef';
    const d = decodeDoc(await ca.issue({ pcrs: new Map([[0, pcr0]]), moduleId }));
    const pcrs = d.fields.get('pcrs') as Map<number, Uint8Array>;
    expect([...pcrs.keys()]).toEqual([...Array(16).keys()]);
    const expected4 = createHash('sha384').update(new Uint8Array(48)).update('i-0123456789abcdef0').digest();
    expect(Buffer.from(pcrs.get(4)!)).toEqual(expected4);
    expect(Buffer.from(pcrs.get(0)!)).toEqual(Buffer.from(pcr0));
    expect(Buffer.from(pcrs.get(1)!)).toEqual(Buffer.alloc(48));
    expect(d.fields.get('module_id')).toBe(moduleId);
  });

  it('can use an indefinite-length payload map and tag 18, still signed over the original bytes', async () => {
    const bytes = await ca.issue({ pcrs: new Map([[0, pcr0]]), indefiniteLengthMap: true, tagged: true });
    expect(bytes[0]).toBe(0xd2); // tag 18
    const d = decodeDoc(bytes);
    expect(d.tagged).toBe(true);
    expect(d.payload[0]).toBe(0xbf);
    expect(d.payload[d.payload.length - 1]).toBe(0xff);
    expect(verifyCoseWithNode(d)).toBe(true);
    // A definite-length re-encoding of the same map is different bytes and fails the signature:
    // verifiers must use the original payload bytes.
    const reencoded = { ...d, payload: enc.encode(d.fields) };
    expect(Buffer.from(reencoded.payload).equals(Buffer.from(d.payload))).toBe(false);
    expect(verifyCoseWithNode(reencoded)).toBe(false);
  });

  it('chains leaf → intermediate → root with CA constraints shaped like AWS', async () => {
    const d = decodeDoc(await ca.issue({ pcrs: new Map() }));
    const bundle = d.fields.get('cabundle') as Uint8Array[];
    expect(bundle.length).toBe(2);
    expect(Buffer.from(bundle[0]!)).toEqual(Buffer.from(ca.rootDer));
    const root = new X509Certificate(bundle[0]!);
    const inter = new X509Certificate(bundle[1]!);
    const leaf = new X509Certificate(d.fields.get('certificate') as Uint8Array);
    expect(root.subject).toContain('SIMULATED');
    expect(root.ca && inter.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(root.verify(root.publicKey)).toBe(true);
    expect(inter.checkIssued(root) && inter.verify(root.publicKey)).toBe(true);
    expect(leaf.checkIssued(inter) && leaf.verify(inter.publicKey)).toBe(true);
    expect(leaf.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    // Leaf lives 3 hours from the document time by default.
    expect(Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)).toBe(3 * 3600 * 1000);
    expect(Date.parse(leaf.validFrom)).toBeLessThanOrEqual(T0);
  });

  it('reuses a leaf while it is valid and rotates it after its lifetime', async () => {
    const a = decodeDoc(await ca.issue({ pcrs: new Map(), timestamp: T0 }));
    const b = decodeDoc(await ca.issue({ pcrs: new Map(), timestamp: T0 + 60_000 }));
    const c = decodeDoc(await ca.issue({ pcrs: new Map(), timestamp: T0 + 4 * 3600 * 1000 }));
    const cert = (x: Decoded): string => Buffer.from(x.fields.get('certificate') as Uint8Array).toString('hex');
    expect(cert(a)).toBe(cert(b));
    expect(cert(c)).not.toBe(cert(a));
    expect(verifyCoseWithNode(c)).toBe(true);
  });

  it('makes debug documents (PCR0/1/2 zero, PCR4 filled)', async () => {
    const d = decodeDoc(await ca.issue({ pcrs: new Map([[0, pcr0], [1, pcr1], [2, pcr2]]), debug: true }));
    const pcrs = d.fields.get('pcrs') as Map<number, Uint8Array>;
    for (const i of [0, 1, 2, 8]) expect(Buffer.from(pcrs.get(i)!)).toEqual(Buffer.alloc(48));
    expect(Buffer.from(pcrs.get(4)!)).not.toEqual(Buffer.alloc(48));
  });

  it('makes NitroTPM-shaped documents (nitrotpm_pcrs, no pcrs)', async () => {
    const d = decodeDoc(await ca.issue({ pcrs: new Map(), kind: 'nitrotpm', indefiniteLengthMap: true }));
    expect(d.fields.has('pcrs')).toBe(false);
    expect((d.fields.get('nitrotpm_pcrs') as Map<number, Uint8Array>).size).toBe(24);
    expect(verifyCoseWithNode(d)).toBe(true);
  });

  it('issues leaves with an explicit (e.g. expired) validity window', async () => {
    const notBefore = new Date(Date.UTC(2026, 10, 23, 0, 0, 0));
    const notAfter = new Date(Date.UTC(2026, 10, 23, 3, 0, 0));
    const d = decodeDoc(await ca.issue({ pcrs: new Map(), leafValidity: { notBefore, notAfter } }));
    const leaf = new X509Certificate(d.fields.get('certificate') as Uint8Array);
    expect(Date.parse(leaf.validTo)).toBe(notAfter.getTime());
  });

  it('refuses a root name without the SIMULATED label and oversized fields', async () => {
    await expect(createTestCa({ rootCommonName: 'aws.nitro-enclaves' })).rejects.toThrow(/SIMULATED/);
    await expect(ca.issue({ pcrs: new Map(), nonce: new Uint8Array(1025) })).rejects.toThrow(/nonce/);
    await expect(ca.issue({ pcrs: new Map([[0, new Uint8Array(32)]]) })).rejects.toThrow(/PCR0/);
  });
});

function refusalCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isVerificationError(e)) return e.code;
    throw e;
  }
  return 'verified';
}

describe('against verifyAttestationDocument', () => {
  const pcrs = new Map([[0, pcr0], [1, pcr1], [2, pcr2]]);
  const at = (extra: Partial<VerifyAttestationOptions> = {}): VerifyAttestationOptions => ({
    root: ca.rootDer,
    time: { kind: 'fixed', at: T0 },
    pcrs: { expected: pcrs },
    ...extra,
  });

  it('verifies definite, indefinite and tagged documents only with the simulator root passed explicitly', async () => {
    for (const shape of [{}, { indefiniteLengthMap: true }, { tagged: true }, { indefiniteLengthMap: true, tagged: true }]) {
      const bytes = await ca.issue({ pcrs, nonce: Uint8Array.of(9), ...shape });
      const result = verifyAttestationDocument(bytes, at({ expectedNonce: Uint8Array.of(9) }));
      expect(result.trust.kind).toBe('simulated');
      expect(result.checks.filter((c) => c.status === 'fail')).toEqual([]);
      expect(parseAttestationDocument(bytes).tagged).toBe(shape.tagged === true);
      // The default trust anchor is the AWS Nitro root G1: a simulated document never passes it.
      expect(refusalCode(() => verifyAttestationDocument(bytes, at({ root: undefined })))).toBe('CHAIN_UNTRUSTED_ROOT');
      // Nor with another simulated CA's root.
      const other = await createTestCa({ now: () => T0 });
      expect(refusalCode(() => verifyAttestationDocument(bytes, at({ root: other.rootDer })))).toBe('CHAIN_UNTRUSTED_ROOT');
    }
  });

  it('round-trips every field through the verifier\'s parser', async () => {
    const publicKey = new Uint8Array(120).fill(3);
    const userData = new Uint8Array(48).fill(4);
    const bytes = await ca.issue({ pcrs, publicKey, userData, nonce: null, moduleId: 'i-0fedcba9876543210-enc0fedcba987654321' });
    const doc = parseAttestationDocument(bytes).document;
    expect(doc.moduleId).toBe('i-0fedcba9876543210-enc0fedcba987654321');
    expect(doc.timestamp).toBe(T0);
    expect(Buffer.from(doc.publicKey!)).toEqual(Buffer.from(publicKey));
    expect(Buffer.from(doc.userData!)).toEqual(Buffer.from(userData));
    expect(doc.nonce).toBeNull();
    expect(Buffer.from(doc.cabundle[0]!)).toEqual(Buffer.from(ca.rootDer));
  });

  it('expired and not-yet-valid leaves, expired intermediates are refused at the chosen time', async () => {
    const expired = await ca.issue({
      pcrs,
      leafValidity: { notBefore: new Date(T0 - 4 * 3600_000 - 123), notAfter: new Date(T0 - 3600_000 - 123) },
    });
    expect(refusalCode(() => verifyAttestationDocument(expired, at()))).toBe('CERT_EXPIRED');
    const future = await ca.issue({ pcrs, leafValidity: { notBefore: new Date(T0 + 3600_000 - 123), notAfter: new Date(T0 + 7200_000 - 123) } });
    expect(refusalCode(() => verifyAttestationDocument(future, at()))).toBe('CERT_NOT_YET_VALID');
    // A document three hours old is fine at its own timestamp, expired now.
    const old = await ca.issue({ pcrs, timestamp: T0 - 4 * 3600_000 });
    expect(refusalCode(() => verifyAttestationDocument(old, at({ time: { kind: 'document' } })))).toBe('verified');
    expect(refusalCode(() => verifyAttestationDocument(old, at()))).toBe('CERT_EXPIRED');

    const shortInter = await createTestCa({
      now: () => T0,
      intermediateValidity: { notBefore: new Date(T0 - 86_400_000 - 123), notAfter: new Date(T0 - 3600_000 - 123) },
    });
    const doc = await shortInter.issue({ pcrs });
    expect(refusalCode(() => verifyAttestationDocument(doc, at({ root: shortInter.rootDer })))).toBe('CERT_EXPIRED');
  });

  it('debug and NitroTPM documents are refused by the verifier', async () => {
    const debug = await ca.issue({ pcrs, debug: true });
    expect(refusalCode(() => verifyAttestationDocument(debug, at()))).toBe('DEBUG_MODE');
    const tpm = await ca.issue({ pcrs, kind: 'nitrotpm' });
    expect(refusalCode(() => verifyAttestationDocument(tpm, at()))).toBe('NOT_ENCLAVE_DOCUMENT');
  });
});

/** ECDSA raw r‖s (IEEE P1363) → DER SEQUENCE { INTEGER r, INTEGER s }, for OpenSSL. */
function rawToDer(raw: Uint8Array): Buffer {
  const int = (b: Uint8Array): Buffer => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    let v = Buffer.from(b.subarray(i));
    if ((v[0] ?? 0) & 0x80) v = Buffer.concat([Buffer.of(0), v]);
    return Buffer.concat([Buffer.of(0x02, v.length), v]);
  };
  const body = Buffer.concat([int(raw.subarray(0, 48)), int(raw.subarray(48))]);
  return Buffer.concat([body.length < 128 ? Buffer.of(0x30, body.length) : Buffer.of(0x30, 0x81, body.length), body]);
}

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('OpenSSL CLI cross-check', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ap-issuer-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // .ci/run installs openssl; a missing binary is a setup error, not a skip.
  it('openssl is available', () => expect(hasOpenssl()).toBe(true));

  it('verifies the chain and the COSE signature of an issued document', async () => {
    const now = Date.now();
    const live = await createTestCa();
    const d = decodeDoc(await live.issue({ pcrs: new Map([[0, pcr0]]), timestamp: now, indefiniteLengthMap: true }));
    const bundle = d.fields.get('cabundle') as Uint8Array[];
    const pem = (der: Uint8Array): string => new X509Certificate(der).toString();
    writeFileSync(join(dir, 'root.pem'), pem(bundle[0]!));
    writeFileSync(join(dir, 'inter.pem'), pem(bundle[1]!));
    writeFileSync(join(dir, 'leaf.pem'), pem(d.fields.get('certificate') as Uint8Array));
    const out = execFileSync('openssl', [
      'verify', '-attime', String(Math.floor(now / 1000)), '-CAfile', join(dir, 'root.pem'),
      '-untrusted', join(dir, 'inter.pem'), join(dir, 'leaf.pem'),
    ]).toString();
    expect(out).toMatch(/leaf\.pem: OK/);

    const leafKey = new X509Certificate(d.fields.get('certificate') as Uint8Array).publicKey;
    writeFileSync(join(dir, 'leaf-pub.pem'), leafKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(dir, 'tbs.bin'), sigStructure(d));
    writeFileSync(join(dir, 'sig.der'), rawToDer(d.signature));
    const dgst = execFileSync('openssl', [
      'dgst', '-sha384', '-verify', join(dir, 'leaf-pub.pem'), '-signature', join(dir, 'sig.der'), join(dir, 'tbs.bin'),
    ]).toString();
    expect(dgst.trim()).toBe('Verified OK');

    // And OpenSSL refuses the chain against a different simulated root.
    const other = await createTestCa();
    writeFileSync(join(dir, 'other-root.pem'), other.rootPem);
    expect(() =>
      execFileSync('openssl', ['verify', '-CAfile', join(dir, 'other-root.pem'), '-untrusted', join(dir, 'inter.pem'), join(dir, 'leaf.pem')], {
        stdio: 'pipe',
      }),
    ).toThrow();
    // createPublicKey round trip guards the PEM export path used above.
    expect(createPublicKey(leafKey.export({ type: 'spki', format: 'pem' })).asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
  });
});
