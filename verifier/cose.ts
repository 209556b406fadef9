// COSE_Sign1 (RFC 9052 §4.2) as the Nitro Security Module emits it: an untagged (or tag 18)
// array [protected bstr, unprotected map, payload bstr, signature bstr], ES384 only.
// The signature is checked over the ORIGINAL protected and payload bytes: since 2025 NSM
// encodes the payload as an indefinite-length map, so any re-encoding breaks signatures.
import { verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { CborTag, decodeCbor, encodeHead } from './cbor.ts';
import { fail } from './errors.ts';

/** COSE algorithm identifier for ECDSA P-384 with SHA-384 (RFC 9053 §2.1). */
export const COSE_ALG_ES384 = -35;
const COSE_HEADER_ALG = 1;
const COSE_SIGN1_TAG = 18;
/** ES384 signatures are raw r‖s, 48 bytes each (RFC 9053 §2.1), not DER. */
export const ES384_SIGNATURE_BYTES = 96;

export interface CoseSign1 {
  /** The protected header exactly as encoded (the bstr's content). */
  protectedHeader: Uint8Array;
  /** The payload exactly as encoded (the bstr's content). */
  payload: Uint8Array;
  signature: Uint8Array;
  tagged: boolean;
}

/** Strictly parse a COSE_Sign1 with protected header {1: -35} and an empty unprotected map. */
export function parseCoseSign1(bytes: Uint8Array): CoseSign1 {
  let top = decodeCbor(bytes);
  let tagged = false;
  if (top instanceof CborTag) {
    if (top.tag !== COSE_SIGN1_TAG) fail('MALFORMED_COSE', `COSE_Sign1 may only carry tag 18, found tag ${top.tag}`);
    tagged = true;
    top = top.value;
  }
  if (!Array.isArray(top) || top.length !== 4) fail('MALFORMED_COSE', 'COSE_Sign1 must be an array of 4 elements');
  const [protectedHeader, unprotected, payload, signature] = top;
  if (!(protectedHeader instanceof Uint8Array)) fail('MALFORMED_COSE', 'COSE_Sign1 protected header must be a byte string');
  if (!(unprotected instanceof Map)) fail('MALFORMED_COSE', 'COSE_Sign1 unprotected header must be a map');
  // NSM sends an empty unprotected header. Anything there would be unsigned data we would
  // have to ignore, so we refuse it rather than carry it along.
  if (unprotected.size !== 0) fail('MALFORMED_COSE', 'COSE_Sign1 unprotected header must be empty');
  if (!(payload instanceof Uint8Array)) fail('MALFORMED_COSE', 'COSE_Sign1 payload must be a byte string (detached payloads are not used)');
  if (!(signature instanceof Uint8Array)) fail('MALFORMED_COSE', 'COSE_Sign1 signature must be a byte string');
  checkProtectedHeader(protectedHeader);
  if (signature.length !== ES384_SIGNATURE_BYTES) {
    fail('MALFORMED_COSE', `ES384 signature must be ${ES384_SIGNATURE_BYTES} bytes (raw r||s), found ${signature.length}`);
  }
  return { protectedHeader, payload, signature, tagged };
}

function checkProtectedHeader(encoded: Uint8Array): void {
  if (encoded.length === 0) fail('MALFORMED_COSE', 'COSE_Sign1 protected header is empty; it must carry the algorithm');
  const header = decodeCbor(encoded);
  if (!(header instanceof Map)) fail('MALFORMED_COSE', 'COSE_Sign1 protected header must encode a map');
  const alg = header.get(COSE_HEADER_ALG);
  if (alg === undefined) fail('MALFORMED_COSE', 'COSE_Sign1 protected header has no algorithm (label 1)');
  if (alg !== COSE_ALG_ES384) fail('UNSUPPORTED_ALGORITHM', `COSE algorithm ${String(alg)} is not ES384 (-35)`);
  if (header.size !== 1) fail('MALFORMED_COSE', 'COSE_Sign1 protected header must contain only the algorithm');
}

const SIGNATURE1 = new TextEncoder().encode('Signature1');

/** Sig_structure = ["Signature1", protected, external_aad = h'', payload] (RFC 9052 §4.4). */
export function coseSign1SigStructure(protectedHeader: Uint8Array, payload: Uint8Array): Uint8Array {
  const parts = [
    Uint8Array.of(0x84),
    encodeHead(3, SIGNATURE1.length),
    SIGNATURE1,
    encodeHead(2, protectedHeader.length),
    protectedHeader,
    Uint8Array.of(0x40),
    encodeHead(2, payload.length),
    payload,
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** True when the ES384 signature verifies with `key` (a P-384 public key). Never throws. */
export function verifyCoseSign1Es384(cose: CoseSign1, key: KeyObject): boolean {
  try {
    return cryptoVerify(
      'sha384',
      coseSign1SigStructure(cose.protectedHeader, cose.payload),
      { key, dsaEncoding: 'ieee-p1363' },
      cose.signature,
    );
  } catch {
    return false;
  }
}
