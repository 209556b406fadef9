// Signed EIFs (PCR8): structure as serde_cbor writes it, PCR8 by hand with openssl, and
// the refusal paths for unusable signing material.
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode } from 'cbor-x';
import { writeEif, readEif } from './eif.ts';
import { computeEifPcrs } from './pcrs.ts';
import { checkEifSignature, createEifSignature, parseEifSignature, pcrSignaturePayload } from './eif-signature.ts';
import { describeEif } from './describe.ts';
import { BuildError } from './errors.ts';
import { codeOf } from '../test/error-codes.ts';

let dir: string;
const pem: Record<string, string> = {};

function openssl(args: string[]): Buffer {
  return execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

function makeCert(name: string, curve: string): void {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  openssl(['ecparam', '-name', curve, '-genkey', '-noout', '-out', key]);
  openssl(['pkcs8', '-topk8', '-nocrypt', '-in', key, '-out', `${key}.p8`]);
  openssl(['req', '-new', '-x509', '-key', `${key}.p8`, '-out', cert, '-days', '30', '-subj', `/CN=eif signer ${name}/O=attested-pack test`]);
  pem[`${name}.key`] = readFileSync(`${key}.p8`, 'utf8');
  pem[`${name}.cert`] = readFileSync(cert, 'utf8');
}

const expectCode = (fn: () => unknown, code: string): void => {
  expect(codeOf(fn, BuildError)).toBe(code);
};

const kernel = Buffer.from('kernel');
const cmdline = Buffer.from('console=ttyS0');
const ramdisks = [Buffer.from('boot'), Buffer.from('app')];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'eif-sign-'));
  makeCert('p384', 'secp384r1');
  makeCert('p256', 'prime256v1');
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', join(dir, 'rsa.key')]);
  pem['rsa.key'] = readFileSync(join(dir, 'rsa.key'), 'utf8');
  return () => rmSync(dir, { recursive: true, force: true });
});

function signedEif(certName: string, keyName = certName): Buffer {
  const der = openssl(['x509', '-in', join(dir, `${certName}.pem`), '-outform', 'DER']);
  const pcrs = computeEifPcrs({ kernel, cmdline, ramdisks }, der);
  const signature = createEifSignature(pcrs[0], { certificatePem: pem[`${certName}.cert`]!, privateKeyPem: pem[`${keyName}.key`]! });
  return Buffer.from(writeEif({ kernel, cmdline, metadata: Buffer.from('{}'), ramdisks, signature }));
}

describe('EIF signature section', () => {
  it('measures PCR8 over the certificate DER, by hand with openssl', () => {
    const eif = signedEif('p384');
    const der = join(dir, 'cert.der');
    writeFileSync(der, openssl(['x509', '-in', join(dir, 'p384.pem'), '-outform', 'DER']));
    const ext = join(dir, 'pcr8.extend');
    writeFileSync(ext, Buffer.concat([Buffer.alloc(48), openssl(['dgst', '-sha384', '-binary', der])]));
    const d = describeEif(eif);
    expect(d.pcrs['8']).toBe(openssl(['dgst', '-sha384', '-binary', ext]).toString('hex'));
    expect(d.isSigned).toBe(true);
    expect(d.signatureCheck).toBe(true);
    expect(d.signingCertificate?.subject).toContain('eif signer p384');
    expect(d.sections.at(-1)?.type).toBe('signature');
  });

  it('has the serde_cbor shape nitro-cli reads: [ {signing_certificate: [uint], signature: [uint]} ]', () => {
    const section = readEif(signedEif('p384')).signature!;
    const raw = decode(section) as Array<Record<string, unknown>>;
    expect(Array.isArray(raw) && raw.length === 1).toBe(true);
    expect(Object.keys(raw[0]!)).toEqual(['signing_certificate', 'signature']);
    const certInts = raw[0]!.signing_certificate as number[];
    expect(Array.isArray(certInts)).toBe(true);
    expect(Buffer.from(certInts).toString('utf8')).toBe(pem['p384.cert']);
    const cose = decode(Buffer.from(raw[0]!.signature as number[])) as unknown[];
    expect(cose).toHaveLength(4);
    expect(Buffer.from(cose[0] as Uint8Array).toString('hex')).toBe('a1013822'); // {1: -35}
    expect(cose[3] as Uint8Array).toHaveLength(96);
    const payload = decode(cose[2] as Uint8Array) as { register_index: number; register_value: number[] };
    expect(payload.register_index).toBe(0);
    expect(Buffer.from(payload.register_value).toString('hex')).toBe(describeEif(signedEif('p384')).pcrs['0']);
  });

  it('uses ES256 for a P-256 key', () => {
    const sig = parseEifSignature(readEif(signedEif('p256')).signature!);
    expect(sig.algorithm).toBe(-7);
    expect(sig.signature).toHaveLength(64);
  });

  it('fails the signature check when PCR0 does not match or the signature is altered', () => {
    const p = readEif(signedEif('p384'));
    const sig = parseEifSignature(p.signature!);
    const pcr0 = computeEifPcrs(p)[0];
    expect(checkEifSignature(sig, pcr0)).toBe(true);
    expect(checkEifSignature(sig, new Uint8Array(48))).toBe(false);
    const tampered = { ...sig, signature: Uint8Array.from(sig.signature, (b, i) => (i === 0 ? b ^ 1 : b)) };
    expect(checkEifSignature(tampered, pcr0)).toBe(false);
    expect(Buffer.from(pcrSignaturePayload(0, new Uint8Array(48))).subarray(0, 16).toString('hex')).toBe('a26e72656769737465725f696e646578');
  });

  it('refuses unusable signing material', () => {
    const pcr0 = new Uint8Array(48);
    expectCode(() => createEifSignature(pcr0, { certificatePem: pem['p384.cert']!, privateKeyPem: pem['p256.key']! }), 'SIGNING_FAILED');
    expectCode(() => createEifSignature(pcr0, { certificatePem: pem['p384.cert']!, privateKeyPem: pem['rsa.key']! }), 'SIGNING_FAILED');
    expectCode(() => createEifSignature(pcr0, { certificatePem: 'not a cert', privateKeyPem: pem['p384.key']! }), 'SIGNING_FAILED');
    expectCode(() => createEifSignature(pcr0, { certificatePem: pem['p384.cert']!, privateKeyPem: 'not a key' }), 'SIGNING_FAILED');
  });

  it('refuses a malformed signature section', () => {
    expectCode(() => parseEifSignature(Buffer.from([0xff, 0x00])), 'EIF_MALFORMED');
    expectCode(() => parseEifSignature(Buffer.from([0x80])), 'EIF_MALFORMED');
    expectCode(() => parseEifSignature(new Uint8Array(40000)), 'EIF_MALFORMED');
  });
});
