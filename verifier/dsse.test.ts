import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  decodeBase64Strict,
  dsseKeyId,
  dssePae,
  IN_TOTO_PAYLOAD_TYPE,
  p384PublicKeyFromSpki,
  parseDsseEnvelope,
  signDsseEnvelope,
  verifyDsseSignature,
  type DsseEnvelope,
} from './dsse.ts';
import { isVerificationError } from './errors.ts';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isVerificationError(e)) return e.code;
    throw e;
  }
  return 'ok';
}

const p384 = (): ReturnType<typeof generateKeyPairSync> => generateKeyPairSync('ec', { namedCurve: 'P-384' });
const payload = new TextEncoder().encode('{"_type":"https://in-toto.io/Statement/v1"}');

describe('DSSE PAE', () => {
  it('matches the DSSE protocol example', () => {
    // secure-systems-lab/dsse protocol.md: PAE("http://example.com/HelloWorld", "hello world").
    const pae = dssePae('http://example.com/HelloWorld', new TextEncoder().encode('hello world'));
    expect(new TextDecoder().decode(pae)).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  });

  it('counts bytes, not characters', () => {
    const pae = dssePae('t', new TextEncoder().encode('é'));
    expect(Buffer.from(pae).toString('latin1')).toBe('DSSEv1 1 t 2 \u00c3\u00a9');
  });
});

describe('DSSE envelope', () => {
  it('signs with DER ECDSA P-384/SHA-384 and verifies; keyid = SHA-256 of the SPKI', () => {
    const { privateKey, publicKey } = p384();
    const env = signDsseEnvelope(IN_TOTO_PAYLOAD_TYPE, payload, privateKey);
    const parsed = parseDsseEnvelope(env);
    expect(parsed.signature[0]).toBe(0x30);
    expect(Buffer.from(parsed.payload)).toEqual(Buffer.from(payload));
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    expect(parsed.keyid).toBe(dsseKeyId(spki));
    expect(() => verifyDsseSignature(parsed, publicKey)).not.toThrow();
    expect(code(() => verifyDsseSignature(parsed, p384().publicKey))).toBe('DSSE_SIGNATURE_INVALID');
  });

  it('a signature made by OpenSSL over the PAE verifies (independent signer)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-dsse-'));
    try {
      const { privateKey, publicKey } = p384();
      writeFileSync(join(dir, 'key.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }));
      writeFileSync(join(dir, 'pae.bin'), dssePae(IN_TOTO_PAYLOAD_TYPE, payload));
      execFileSync('openssl', ['dgst', '-sha384', '-sign', join(dir, 'key.pem'), '-out', join(dir, 'sig.der'), join(dir, 'pae.bin')]);
      const sig = readFileSync(join(dir, 'sig.der'));
      const env: DsseEnvelope = {
        payloadType: IN_TOTO_PAYLOAD_TYPE,
        payload: Buffer.from(payload).toString('base64'),
        signatures: [{ keyid: dsseKeyId(publicKey.export({ format: 'der', type: 'spki' })), sig: sig.toString('base64') }],
      };
      expect(() => verifyDsseSignature(parseDsseEnvelope(env), publicKey)).not.toThrow();
      // And OpenSSL verifies ours.
      const ours = parseDsseEnvelope(signDsseEnvelope(IN_TOTO_PAYLOAD_TYPE, payload, privateKey));
      writeFileSync(join(dir, 'ours.der'), ours.signature);
      writeFileSync(join(dir, 'pub.pem'), publicKey.export({ format: 'pem', type: 'spki' }));
      const out = execFileSync('openssl', ['dgst', '-sha384', '-verify', join(dir, 'pub.pem'), '-signature', join(dir, 'ours.der'), join(dir, 'pae.bin')]);
      expect(out.toString().trim()).toBe('Verified OK');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a signature over the payload alone instead of the PAE', () => {
    const { privateKey, publicKey } = p384();
    const env = signDsseEnvelope(IN_TOTO_PAYLOAD_TYPE, payload, privateKey);
    env.signatures[0]!.sig = sign('sha384', payload, { key: privateKey, dsaEncoding: 'der' }).toString('base64');
    expect(code(() => verifyDsseSignature(parseDsseEnvelope(env), publicKey))).toBe('DSSE_SIGNATURE_INVALID');
  });

  it('refuses malformed envelopes (DSSE_MALFORMED)', () => {
    const { privateKey } = p384();
    const good = signDsseEnvelope(IN_TOTO_PAYLOAD_TYPE, payload, privateKey);
    const sig = Buffer.from(good.signatures[0]!.sig, 'base64');
    const raw = sign('sha384', dssePae(IN_TOTO_PAYLOAD_TYPE, payload), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    const withSig = (s: Buffer): unknown => ({ ...good, signatures: [{ keyid: good.signatures[0]!.keyid, sig: s.toString('base64') }] });
    const cases: unknown[] = [
      null,
      [],
      { ...good, payloadType: 'application/json' },
      { ...good, extra: 1 },
      { payloadType: good.payloadType, payload: good.payload },
      { ...good, signatures: [] },
      { ...good, signatures: [good.signatures[0], good.signatures[0]] },
      { ...good, signatures: [{ ...good.signatures[0], extra: 1 }] },
      { ...good, signatures: [{ ...good.signatures[0], keyid: '' }] },
      { ...good, payload: good.payload.replace(/=+$/, '') },
      { ...good, payload: 'not base64!' },
      { ...good, payload: 123 },
      withSig(raw),
      withSig(Buffer.concat([sig, Buffer.of(0)])),
      withSig(Buffer.concat([Buffer.of(0x30, sig[1]! + 3), sig.subarray(2), Buffer.of(0x02, 0x01, 0x01)])),
      withSig(Buffer.of(0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01)), // non-minimal INTEGER
      withSig(Buffer.of(0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01)), // negative INTEGER
    ];
    for (const c of cases) expect(code(() => parseDsseEnvelope(c)), JSON.stringify(c)?.slice(0, 80)).toBe('DSSE_MALFORMED');
  });

  it('decodes only canonical padded standard base64', () => {
    expect(Buffer.from(decodeBase64Strict('aGk=', 'x', 'DSSE_MALFORMED', 10))).toEqual(Buffer.from('hi'));
    for (const bad of ['aGk', 'aGl=', 'a-_=', 'aG k=', 'aGk==']) expect(code(() => decodeBase64Strict(bad, 'x', 'DSSE_MALFORMED', 10))).toBe('DSSE_MALFORMED');
    expect(code(() => decodeBase64Strict('aGVsbG8gd29ybGQ=', 'x', 'RECEIPT_MALFORMED', 4))).toBe('RECEIPT_MALFORMED');
  });

  it('accepts only canonical P-384 SPKI keys', () => {
    const spki = p384().publicKey.export({ format: 'der', type: 'spki' });
    expect(p384PublicKeyFromSpki(spki, 'PUBLIC_KEY_MISMATCH', 'k').asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
    const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
    for (const k of [p256, ed, Buffer.from('not a key'), Buffer.concat([spki, Buffer.of(0)])]) {
      expect(code(() => p384PublicKeyFromSpki(k, 'PUBLIC_KEY_MISMATCH', 'k'))).toBe('PUBLIC_KEY_MISMATCH');
    }
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(code(() => signDsseEnvelope(IN_TOTO_PAYLOAD_TYPE, payload, privateKey))).toBe('DSSE_MALFORMED');
  });
});
