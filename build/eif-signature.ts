// The optional EIF signature section (PCR8), as aws-nitro-enclaves-image-format writes it
// (src/utils/eif_signer.rs, serde_cbor): a CBOR array of one map
// {"signing_certificate": [PEM bytes as uints], "signature": [COSE_Sign1 bytes as uints]}
// — Vec<u8> through serde is an array of integers, not a byte string. The COSE_Sign1
// (aws-nitro-enclaves-cose, untagged) has protected {1: alg}, unprotected {}, and payload
// {"register_index": 0, "register_value": [48 uints = PCR0]}. We encode by hand so the
// bytes are exactly serde_cbor's (shortest-form heads, keys in struct order).
import { X509Certificate, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { decode } from 'cbor-x';
import { buildFail } from './errors.ts';

/** Section data larger than this is refused (nitro-cli's own limit). */
export const MAX_SIGNATURE_SECTION = 32768;

const COSE_ALGS = { 'P-256': { alg: -7, hash: 'sha256' }, 'P-384': { alg: -35, hash: 'sha384' }, 'P-521': { alg: -36, hash: 'sha512' } } as const;
type Curve = keyof typeof COSE_ALGS;

function head(major: number, n: number): number[] {
  if (n < 24) return [(major << 5) | n];
  if (n < 0x100) return [(major << 5) | 24, n];
  if (n < 0x10000) return [(major << 5) | 25, n >> 8, n & 0xff];
  if (n <= 0xffffffff) return [(major << 5) | 26, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  buildFail('SIGNING_FAILED', 'CBOR item too large');
}

const cborText = (s: string): number[] => { const b = Buffer.from(s, 'utf8'); return [...head(3, b.length), ...b]; };
const cborBytes = (b: Uint8Array): number[] => [...head(2, b.length), ...b];
const cborInt = (n: number): number[] => (n >= 0 ? head(0, n) : head(1, -1 - n));
/** serde's Vec<u8>: an array of unsigned integers. */
const cborUintArray = (b: Uint8Array): number[] => { const out = head(4, b.length); for (const x of b) out.push(...head(0, x)); return out; };

/** serde_cbor bytes of PcrInfo { register_index, register_value }: the signed payload. */
export function pcrSignaturePayload(registerIndex: number, registerValue: Uint8Array): Uint8Array {
  return Uint8Array.from([...head(5, 2), ...cborText('register_index'), ...cborInt(registerIndex), ...cborText('register_value'), ...cborUintArray(registerValue)]);
}

function sigStructure(protectedHeader: Uint8Array, payload: Uint8Array): Uint8Array {
  return Uint8Array.from([...head(4, 4), ...cborText('Signature1'), ...cborBytes(protectedHeader), ...cborBytes(new Uint8Array(0)), ...cborBytes(payload)]);
}

function curveOf(key: KeyObject): Curve {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const name = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : curve === 'secp521r1' ? 'P-521' : undefined;
  if (key.asymmetricKeyType !== 'ec' || name === undefined) buildFail('SIGNING_FAILED', 'the signing key must be an EC key on P-256, P-384 or P-521 (COSE ES256/384/512)');
  return name;
}

export interface SigningMaterial {
  certificatePem: string;
  privateKeyPem: string;
}

/** DER of the (first) certificate in a PEM file; PCR8 measures these bytes. */
export function certificateDer(pem: string | Uint8Array): Uint8Array {
  try {
    return new Uint8Array(new X509Certificate(typeof pem === 'string' ? pem : Buffer.from(pem)).raw);
  } catch (e) {
    buildFail('SIGNING_FAILED', `signing certificate is not a PEM X.509 certificate: ${(e as Error).message}`);
  }
}

/** Build the signature section for an image whose PCR0 is `pcr0`. */
export function createEifSignature(pcr0: Uint8Array, material: SigningMaterial): Uint8Array {
  const cert = new X509Certificate(Buffer.from(certificateDer(material.certificatePem)));
  let key: KeyObject;
  try {
    key = createPrivateKey(material.privateKeyPem);
  } catch (e) {
    buildFail('SIGNING_FAILED', `signing key is not a PEM private key: ${(e as Error).message}`);
  }
  const curve = curveOf(key);
  if (!cert.checkPrivateKey(key)) buildFail('SIGNING_FAILED', 'the signing key does not belong to the signing certificate');
  const { alg, hash } = COSE_ALGS[curve];
  const protectedHeader = Uint8Array.from([...head(5, 1), ...cborInt(1), ...cborInt(alg)]);
  const payload = pcrSignaturePayload(0, pcr0);
  const signature = sign(hash, sigStructure(protectedHeader, payload), { key, dsaEncoding: 'ieee-p1363' });
  const coseSign1 = Uint8Array.from([...head(4, 4), ...cborBytes(protectedHeader), ...head(5, 0), ...cborBytes(payload), ...cborBytes(signature)]);
  const pem = Buffer.from(material.certificatePem, 'utf8');
  const section = Uint8Array.from([...head(4, 1), ...head(5, 2), ...cborText('signing_certificate'), ...cborUintArray(pem), ...cborText('signature'), ...cborUintArray(coseSign1)]);
  if (section.length > MAX_SIGNATURE_SECTION) buildFail('SIGNING_FAILED', `signature section is ${section.length} bytes; at most ${MAX_SIGNATURE_SECTION}`);
  return section;
}

export interface ParsedEifSignature {
  certificatePem: string;
  certificateDer: Uint8Array;
  coseSign1: Uint8Array;
  algorithm: number;
  payload: Uint8Array;
  signature: Uint8Array;
  protectedHeader: Uint8Array;
}

function toBytes(v: unknown, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0 && x <= 255)) return Uint8Array.from(v as number[]);
  buildFail('EIF_MALFORMED', `signature section: ${what} must be bytes`);
}

/** Parse a signature section (only entry 0 counts, as in nitro-cli). */
export function parseEifSignature(section: Uint8Array): ParsedEifSignature {
  if (section.length > MAX_SIGNATURE_SECTION) buildFail('EIF_MALFORMED', `signature section is larger than ${MAX_SIGNATURE_SECTION} bytes`);
  let raw: unknown;
  try {
    raw = decode(section);
  } catch (e) {
    buildFail('EIF_MALFORMED', `signature section is not CBOR: ${(e as Error).message}`);
  }
  const entry: unknown = Array.isArray(raw) ? raw[0] : undefined;
  if (typeof entry !== 'object' || entry === null) buildFail('EIF_MALFORMED', 'signature section must be a non-empty CBOR array of maps');
  const rec = entry as Record<string, unknown>;
  const pem = toBytes(rec.signing_certificate, 'signing_certificate');
  const coseSign1 = toBytes(rec.signature, 'signature');
  let cose: unknown;
  try {
    cose = decode(coseSign1);
  } catch (e) {
    buildFail('EIF_MALFORMED', `EIF signature is not CBOR: ${(e as Error).message}`);
  }
  if (!Array.isArray(cose) || cose.length !== 4) buildFail('EIF_MALFORMED', 'EIF signature is not a COSE_Sign1 array of 4');
  const protectedHeader = toBytes(cose[0], 'COSE protected header');
  const payload = toBytes(cose[2], 'COSE payload');
  const signature = toBytes(cose[3], 'COSE signature');
  const prot: unknown = decode(protectedHeader);
  const alg = prot instanceof Map ? prot.get(1) : (prot as Record<string, unknown> | null)?.['1'];
  if (alg !== -7 && alg !== -35 && alg !== -36) buildFail('EIF_MALFORMED', `EIF signature uses unsupported COSE algorithm ${String(alg)}`);
  const certificatePem = Buffer.from(pem).toString('utf8');
  return { certificatePem, certificateDer: certificateDer(certificatePem), coseSign1, algorithm: alg, payload, signature, protectedHeader };
}

/** nitro-cli's SignatureCheck: the COSE signature verifies with the certificate key and signs this PCR0. */
export function checkEifSignature(sig: ParsedEifSignature, pcr0: Uint8Array): boolean {
  const hash = sig.algorithm === -7 ? 'sha256' : sig.algorithm === -35 ? 'sha384' : 'sha512';
  const key = createPublicKey(new X509Certificate(Buffer.from(sig.certificateDer)).publicKey.export({ format: 'pem', type: 'spki' }));
  const ok = verify(hash, sigStructure(sig.protectedHeader, sig.payload), { key, dsaEncoding: 'ieee-p1363' }, sig.signature);
  return ok && Buffer.from(sig.payload).equals(Buffer.from(pcrSignaturePayload(0, pcr0)));
}
