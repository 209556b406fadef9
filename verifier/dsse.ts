// DSSE v1 envelopes (secure-systems-lab/dsse envelope.md, protocol.md) as the receipt uses
// them: one ECDSA P-384 / SHA-384 signature, DER-encoded, over the PAE of an in-toto
// statement. Parsing is strict (exact members, canonical base64, DER shape) so that one
// receipt has one meaning; docs/receipt.md is the specification.
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { fail, type VerifyErrorCode } from './errors.ts';

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
/** Largest DSSE payload (the statement) accepted, in bytes. */
export const MAX_DSSE_PAYLOAD_BYTES = 256 * 1024;
/** DER ECDSA P-384 signature: SEQUENCE of two INTEGERs of at most 49 bytes each. */
const MAX_DER_SIGNATURE_BYTES = 2 + 2 * (2 + 49);

export interface DsseSignature {
  /** Lowercase hex SHA-256 of the signing key's DER SubjectPublicKeyInfo (a hint; the attestation document is what binds the key). */
  keyid: string;
  /** Base64 of the DER ECDSA signature. */
  sig: string;
}

export interface DsseEnvelope {
  payloadType: string;
  /** Base64 of the payload bytes. */
  payload: string;
  signatures: DsseSignature[];
}

/** An envelope after strict parsing: the decoded bytes the checks need. */
export interface ParsedDsseEnvelope {
  envelope: DsseEnvelope;
  payload: Uint8Array;
  keyid: string;
  signature: Uint8Array;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decode canonical padded standard base64 (RFC 4648 §4) or fail with `code`. */
export function decodeBase64Strict(text: string, what: string, code: VerifyErrorCode, maxBytes: number): Uint8Array {
  if (text.length > Math.ceil(maxBytes / 3) * 4) fail(code, `${what} is larger than ${maxBytes} bytes`);
  if (!BASE64.test(text)) fail(code, `${what} is not canonical padded base64`);
  const bytes = Buffer.from(text, 'base64');
  // Non-zero bits in the last character's padding make a second spelling of the same bytes.
  if (bytes.toString('base64') !== text) fail(code, `${what} is not canonical base64`);
  // The length check above admits up to two bytes more than maxBytes.
  if (bytes.length > maxBytes) fail(code, `${what} is larger than ${maxBytes} bytes`);
  return new Uint8Array(bytes);
}

/** DSSE v1 pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body. */
export function dssePae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = Buffer.from(payloadType, 'utf8');
  const head = Buffer.from(`DSSEv1 ${type.length} ${payloadType} ${payload.length} `, 'utf8');
  return new Uint8Array(Buffer.concat([head, payload]));
}

/** The keyid this project writes: lowercase hex SHA-256 of the DER SPKI. */
export function dsseKeyId(spkiDer: Uint8Array): string {
  return createHash('sha256').update(spkiDer).digest('hex');
}

function assertP384(key: KeyObject, code: VerifyErrorCode, what: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    fail(code, `${what} must be an ECDSA P-384 key`);
  }
}

/**
 * The one SPKI encoding of a P-384 key we accept: SEQUENCE { AlgorithmIdentifier {
 * id-ecPublicKey, namedCurve secp384r1 }, BIT STRING { 0x04 ‖ X ‖ Y } } — 120 bytes.
 * OpenSSL re-exports a compressed point compressed, so re-export alone does not pin this.
 */
const P384_SPKI_PREFIX = Buffer.from('3076301006072a8648ce3d020106052b8104002203620004', 'hex');
const P384_SPKI_BYTES = P384_SPKI_PREFIX.length + 96;

/** Parse a DER SubjectPublicKeyInfo that must hold a P-384 key; failures get `code`. */
export function p384PublicKeyFromSpki(spkiDer: Uint8Array, code: VerifyErrorCode, what: string): KeyObject {
  if (spkiDer.length !== P384_SPKI_BYTES || !P384_SPKI_PREFIX.equals(spkiDer.subarray(0, P384_SPKI_PREFIX.length))) {
    // Still say "P-384" when it is another key type, for a precise message.
    let other: KeyObject | undefined;
    try {
      other = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' });
    } catch {
      other = undefined;
    }
    if (other !== undefined) assertP384(other, code, what);
    fail(code, `${what} is not the canonical DER SubjectPublicKeyInfo of a P-384 key (named curve, uncompressed point, 120 bytes)`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' });
  } catch (e) {
    fail(code, `${what} is not a DER SubjectPublicKeyInfo: ${(e as Error).message}`);
  }
  assertP384(key, code, what);
  // Re-export must give the same bytes: one key, one encoding.
  const again = key.export({ format: 'der', type: 'spki' });
  if (!Buffer.from(spkiDer).equals(again)) fail(code, `${what} is not a canonical DER SubjectPublicKeyInfo`);
  return key;
}

/** Sign a payload as a one-signature DSSE envelope (ECDSA P-384, SHA-384, DER). */
export function signDsseEnvelope(payloadType: string, payload: Uint8Array, privateKey: KeyObject): DsseEnvelope {
  assertP384(privateKey, 'DSSE_MALFORMED', 'DSSE signing key');
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const sig = sign('sha384', dssePae(payloadType, payload), { key: privateKey, dsaEncoding: 'der' });
  return {
    payloadType,
    payload: Buffer.from(payload).toString('base64'),
    signatures: [{ keyid: dsseKeyId(spki), sig: sig.toString('base64') }],
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function exactMembers(obj: Record<string, unknown>, members: readonly string[], where: string): void {
  for (const k of Object.keys(obj)) if (!members.includes(k)) fail('DSSE_MALFORMED', `${where} has an unknown member "${k}"`);
  for (const k of members) if (!(k in obj)) fail('DSSE_MALFORMED', `${where} lacks "${k}"`);
}

/** A positive INTEGER in minimal DER, at most 49 content bytes (P-384 scalars + sign byte). */
function derPositiveInteger(bytes: Uint8Array, pos: number): number {
  if (bytes[pos] !== 0x02) fail('DSSE_MALFORMED', 'DSSE signature: expected an INTEGER');
  const len = bytes[pos + 1] ?? 0;
  if (len === 0 || len > 49 || pos + 2 + len > bytes.length) fail('DSSE_MALFORMED', 'DSSE signature: bad INTEGER length');
  const first = bytes[pos + 2] as number;
  const second = bytes[pos + 3];
  if (first & 0x80) fail('DSSE_MALFORMED', 'DSSE signature: negative INTEGER');
  if (first === 0 && (len === 1 || second === undefined || (second & 0x80) === 0)) {
    fail('DSSE_MALFORMED', 'DSSE signature: non-minimal INTEGER');
  }
  return pos + 2 + len;
}

/** Check that a signature is DER SEQUENCE { INTEGER r, INTEGER s } and nothing else. */
function assertDerEcdsaSignature(sig: Uint8Array): void {
  if (sig.length < 8 || sig[0] !== 0x30) fail('DSSE_MALFORMED', 'DSSE signature is not a DER ECDSA signature (raw r‖s is not accepted)');
  // At most 104 bytes, so the SEQUENCE length is always in short form.
  const bodyLen = sig[1] as number;
  if (bodyLen > 0x7f || 2 + bodyLen !== sig.length) fail('DSSE_MALFORMED', 'DSSE signature: SEQUENCE length does not match');
  const pos = 2;
  const afterR = derPositiveInteger(sig, pos);
  const afterS = derPositiveInteger(sig, afterR);
  if (afterS !== sig.length) fail('DSSE_MALFORMED', 'DSSE signature: trailing bytes');
}

/** Strictly parse a receipt's DSSE envelope (a JSON value already decoded). */
export function parseDsseEnvelope(value: unknown): ParsedDsseEnvelope {
  if (!isRecord(value)) fail('DSSE_MALFORMED', 'DSSE envelope must be a JSON object');
  exactMembers(value, ['payloadType', 'payload', 'signatures'], 'DSSE envelope');
  const { payloadType, payload, signatures } = value;
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE) fail('DSSE_MALFORMED', `DSSE payloadType must be "${IN_TOTO_PAYLOAD_TYPE}"`);
  if (typeof payload !== 'string') fail('DSSE_MALFORMED', 'DSSE payload must be a base64 string');
  if (!Array.isArray(signatures) || signatures.length !== 1) fail('DSSE_MALFORMED', 'DSSE envelope must have exactly one signature');
  const s = signatures[0] as unknown;
  if (!isRecord(s)) fail('DSSE_MALFORMED', 'DSSE signature must be an object');
  exactMembers(s, ['keyid', 'sig'], 'DSSE signature');
  if (typeof s.keyid !== 'string' || !/^[0-9a-f]{64}$/.test(s.keyid)) {
    fail('DSSE_MALFORMED', 'DSSE keyid must be the lowercase hex SHA-256 of the signing key (64 characters)');
  }
  if (typeof s.sig !== 'string') fail('DSSE_MALFORMED', 'DSSE sig must be a base64 string');
  const payloadBytes = decodeBase64Strict(payload, 'DSSE payload', 'DSSE_MALFORMED', MAX_DSSE_PAYLOAD_BYTES);
  const signature = decodeBase64Strict(s.sig, 'DSSE signature', 'DSSE_MALFORMED', MAX_DER_SIGNATURE_BYTES);
  assertDerEcdsaSignature(signature);
  return {
    envelope: { payloadType, payload, signatures: [{ keyid: s.keyid, sig: s.sig }] },
    payload: payloadBytes,
    keyid: s.keyid,
    signature,
  };
}

/** Verify the envelope's signature over its PAE with a P-384 key; DSSE_SIGNATURE_INVALID otherwise. */
export function verifyDsseSignature(parsed: ParsedDsseEnvelope, publicKey: KeyObject): void {
  assertP384(publicKey, 'DSSE_SIGNATURE_INVALID', 'DSSE verification key');
  const pae = dssePae(parsed.envelope.payloadType, parsed.payload);
  let ok = false;
  try {
    ok = verify('sha384', pae, { key: publicKey, dsaEncoding: 'der' }, parsed.signature);
  } catch {
    ok = false;
  }
  if (!ok) fail('DSSE_SIGNATURE_INVALID', 'the DSSE signature does not verify with the attested public key');
}
