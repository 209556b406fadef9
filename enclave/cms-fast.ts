// A fast path for the one CMS shape KMS sends (cms.ts header): a pack opens one
// CiphertextForRecipient per data key, and the generic pkijs parse costs several times the
// RSA decryption itself. This reader accepts only that exact shape — EnvelopedData v2, one
// KeyTransRecipientInfo v2 with a subjectKeyIdentifier, RSAES-OAEP with explicit SHA-256 and
// MGF1-SHA-256 and no label, AES-256-CBC with a 16-byte IV, id-data content — in BER
// (definite or indefinite lengths, content in one OCTET STRING or in chunks). For anything
// else it returns undefined and cms.ts runs the full pkijs parse, which gives the precise
// refusal; so this path can only be narrower than the full one, never wider
// (test/cms-fast.test.ts checks both agree on valid and mutated inputs).
import type { ParsedCiphertextForRecipient } from './cms.ts';

interface Tlv {
  /** First identifier octet (class, constructed bit, tag number < 31). */
  tag: number;
  /** Content [start, end). */
  start: number;
  end: number;
  /** Index after the element (after 00 00 for indefinite lengths). */
  next: number;
}

class NotFast extends Error {}
const no = (): never => {
  throw new NotFast();
};

const MAX_DEPTH = 12;

/** One element at `pos`, within `limit`; indefinite lengths are walked to their end-of-contents. */
function tlv(b: Uint8Array, pos: number, limit: number, depth = 0): Tlv {
  if (depth > MAX_DEPTH || pos + 2 > limit) no();
  const tag = b[pos] as number;
  if ((tag & 0x1f) === 0x1f) no();
  const first = b[pos + 1] as number;
  let start = pos + 2;
  if (first === 0x80) {
    if ((tag & 0x20) === 0) no();
    let p = start;
    for (;;) {
      if (p + 2 > limit) no();
      if (b[p] === 0 && b[p + 1] === 0) break;
      p = tlv(b, p, limit, depth + 1).next;
    }
    return { tag, start, end: p, next: p + 2 };
  }
  let len = first;
  if (first > 0x80) {
    const n = first & 0x7f;
    if (n > 3 || start + n > limit) no();
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (b[start + i] as number);
    start += n;
  }
  const end = start + len;
  if (end > limit) no();
  return { tag, start, end, next: end };
}

/** The children of a constructed element, in order. */
function children(b: Uint8Array, t: Tlv): Tlv[] {
  if ((t.tag & 0x20) === 0) no();
  const out: Tlv[] = [];
  for (let p = t.start; p < t.end; ) {
    const c = tlv(b, p, t.end);
    out.push(c);
    p = c.next;
  }
  return out;
}

function expectTag(t: Tlv | undefined, tag: number): Tlv {
  if (t === undefined || t.tag !== tag) no();
  return t as Tlv;
}

function content(b: Uint8Array, t: Tlv): Uint8Array {
  return b.subarray(t.start, t.end);
}

function equals(a: Uint8Array, hex: string): boolean {
  return Buffer.from(a).equals(Buffer.from(hex, 'hex'));
}

// DER content octets of the OIDs (cms.ts has them as dotted strings).
const ENVELOPED_DATA = '2a864886f70d010703';
const DATA = '2a864886f70d010701';
const RSAES_OAEP = '2a864886f70d010107';
const MGF1 = '2a864886f70d010108';
const SHA256 = '608648016503040201';
const AES256_CBC = '60864801650304012a';
const SEQ = 0x30;
const SET = 0x31;
const OID = 0x06;
const INT = 0x02;
const OCTETS = 0x04;

/** AlgorithmIdentifier { oid, NULL or absent parameters } naming exactly `oid`. */
function isAlgorithm(b: Uint8Array, t: Tlv, oid: string): boolean {
  const [id, params, extra] = children(b, expectTag(t, SEQ));
  if (extra !== undefined || !equals(content(b, expectTag(id, OID)), oid)) return false;
  return params === undefined || (params.tag === 0x05 && params.end === params.start);
}

function checkOaep(b: Uint8Array, alg: Tlv): void {
  const [id, params, extra] = children(b, expectTag(alg, SEQ));
  if (extra !== undefined || !equals(content(b, expectTag(id, OID)), RSAES_OAEP)) no();
  const [hash, mgf, label] = children(b, expectTag(params, SEQ));
  if (label !== undefined) no();
  const [hashAlg, h2] = children(b, expectTag(hash, 0xa0));
  if (h2 !== undefined || !isAlgorithm(b, hashAlg as Tlv, SHA256)) no();
  const [mgfAlg, m2] = children(b, expectTag(mgf, 0xa1));
  const [mgfId, mgfHash, m3] = children(b, expectTag(mgfAlg, SEQ));
  if (m2 !== undefined || m3 !== undefined || !equals(content(b, expectTag(mgfId, OID)), MGF1) || !isAlgorithm(b, mgfHash as Tlv, SHA256)) no();
}

function isVersion2(b: Uint8Array, t: Tlv | undefined): boolean {
  const v = expectTag(t, INT);
  return v.end - v.start === 1 && b[v.start] === 2;
}

/** encryptedContent [0] IMPLICIT: primitive, or constructed of primitive OCTET STRING chunks. */
function encryptedContent(b: Uint8Array, t: Tlv): Uint8Array {
  if (t.tag === 0x80) return Uint8Array.from(content(b, t));
  if (t.tag !== 0xa0) no();
  return Uint8Array.from(Buffer.concat(children(b, t).map((c) => content(b, expectTag(c, OCTETS)))));
}

function parse(b: Uint8Array): ParsedCiphertextForRecipient {
  const top = tlv(b, 0, b.length);
  if (top.next !== b.length) no();
  const [type, wrapped, i2] = children(b, expectTag(top, SEQ));
  if (i2 !== undefined || !equals(content(b, expectTag(type, OID)), ENVELOPED_DATA)) no();
  const [env, w2] = children(b, expectTag(wrapped, 0xa0));
  if (w2 !== undefined) no();
  const [version, recipientInfos, eci, e4] = children(b, expectTag(env, SEQ));
  if (e4 !== undefined || !isVersion2(b, version)) no();
  const [ktri, r2] = children(b, expectTag(recipientInfos, SET));
  if (r2 !== undefined) no();
  const [kv, rid, keyAlg, encKey, k5] = children(b, expectTag(ktri, SEQ));
  if (k5 !== undefined || !isVersion2(b, kv)) no();
  checkOaep(b, keyAlg as Tlv);
  const [ct, contentAlg, enc, c4] = children(b, expectTag(eci, SEQ));
  if (c4 !== undefined || enc === undefined || !equals(content(b, expectTag(ct, OID)), DATA)) no();
  const [algId, ivT, a3] = children(b, expectTag(contentAlg, SEQ));
  if (a3 !== undefined || !equals(content(b, expectTag(algId, OID)), AES256_CBC)) no();
  const iv = content(b, expectTag(ivT, OCTETS));
  const data = encryptedContent(b, enc as Tlv);
  if (iv.length !== 16 || data.length === 0 || data.length % 16 !== 0) no();
  return {
    recipients: [{ subjectKeyIdentifier: Uint8Array.from(content(b, expectTag(rid, 0x80))), encryptedKey: Uint8Array.from(content(b, expectTag(encKey, OCTETS))) }],
    iv: Uint8Array.from(iv),
    encryptedContent: data,
  };
}

/** The KMS shape, or undefined (then the full parser decides). */
export function parseKmsShape(ber: Uint8Array): ParsedCiphertextForRecipient | undefined {
  try {
    return parse(ber);
  } catch (e) {
    if (e instanceof NotFast) return undefined;
    throw e;
  }
}
