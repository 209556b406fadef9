// A minimal DER (X.690) reader: just enough to walk an X.509 certificate to its names,
// validity and extensions. Node's X509Certificate exposes `ca` but not pathLenConstraint,
// keyUsage bits or the exact validity instants, and a full ASN.1 library costs more than
// the signature check we are trying to stay close to. Errors are CERT_MALFORMED.
import { fail } from './errors.ts';

export interface DerElement {
  /** The identifier octet (single-byte tags only; X.509 needs no more). */
  tag: number;
  /** Offset of the identifier octet. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset one past the last content byte. */
  end: number;
}

export const DER_BOOLEAN = 0x01;
export const DER_INTEGER = 0x02;
export const DER_BIT_STRING = 0x03;
export const DER_OCTET_STRING = 0x04;
export const DER_OID = 0x06;
export const DER_UTC_TIME = 0x17;
export const DER_GENERALIZED_TIME = 0x18;
export const DER_SEQUENCE = 0x30;

function malformed(message: string): never {
  fail('CERT_MALFORMED', `certificate DER: ${message}`);
}

/** Read the element starting at `pos`, which must end at or before `limit`. */
export function readElement(bytes: Uint8Array, pos: number, limit: number): DerElement {
  if (pos + 2 > limit) malformed('truncated element');
  const tag = bytes[pos] as number;
  if ((tag & 0x1f) === 0x1f) malformed('multi-byte tags are not supported');
  let lenByte = bytes[pos + 1] as number;
  let contentStart = pos + 2;
  let length: number;
  if (lenByte < 0x80) {
    length = lenByte;
  } else {
    const n = lenByte & 0x7f;
    // DER: definite lengths only, in the fewest octets, long form only when ≥ 128.
    if (n === 0) malformed('indefinite length');
    if (n > 4) malformed('length too large');
    if (contentStart + n > limit) malformed('truncated length');
    if (bytes[contentStart] === 0) malformed('non-minimal length');
    length = 0;
    for (let i = 0; i < n; i++) {
      lenByte = bytes[contentStart + i] as number;
      length = length * 256 + lenByte;
    }
    if (length < 0x80) malformed('non-minimal length');
    contentStart += n;
  }
  const end = contentStart + length;
  if (end > limit) malformed('length runs past its container');
  return { tag, start: pos, contentStart, end };
}

/** Read an element and require its tag. */
export function expectElement(bytes: Uint8Array, pos: number, limit: number, tag: number, what: string): DerElement {
  const el = readElement(bytes, pos, limit);
  if (el.tag !== tag) malformed(`${what}: expected tag 0x${tag.toString(16)}, found 0x${el.tag.toString(16)}`);
  return el;
}

/** The children of a constructed element, in order. */
export function children(bytes: Uint8Array, parent: DerElement): DerElement[] {
  const out: DerElement[] = [];
  let pos = parent.contentStart;
  while (pos < parent.end) {
    const el = readElement(bytes, pos, parent.end);
    out.push(el);
    pos = el.end;
  }
  return out;
}

export function content(bytes: Uint8Array, el: DerElement): Uint8Array {
  return bytes.subarray(el.contentStart, el.end);
}

export function whole(bytes: Uint8Array, el: DerElement): Uint8Array {
  return bytes.subarray(el.start, el.end);
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** DER BOOLEAN: exactly one octet, 0x00 or 0xff. */
export function readBoolean(bytes: Uint8Array, el: DerElement): boolean {
  if (el.tag !== DER_BOOLEAN || el.end - el.contentStart !== 1) malformed('bad BOOLEAN');
  const v = bytes[el.contentStart];
  if (v === 0xff) return true;
  if (v === 0x00) return false;
  return malformed('BOOLEAN must be 0x00 or 0xff');
}

/** A small non-negative DER INTEGER (e.g. pathLenConstraint). */
export function readSmallUnsigned(bytes: Uint8Array, el: DerElement): number {
  const c = content(bytes, el);
  if (el.tag !== DER_INTEGER || c.length === 0 || c.length > 4) malformed('bad INTEGER');
  if (((c[0] as number) & 0x80) !== 0) malformed('negative INTEGER where a count is expected');
  if (c.length > 1 && c[0] === 0 && ((c[1] as number) & 0x80) === 0) malformed('non-minimal INTEGER');
  let v = 0;
  for (const b of c) v = v * 256 + b;
  return v;
}

/** UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ), as RFC 5280 §4.1.2.5 allows. */
export function readTime(bytes: Uint8Array, el: DerElement): number {
  const text = String.fromCharCode(...content(bytes, el));
  let m: RegExpExecArray | null;
  let year: number;
  if (el.tag === DER_UTC_TIME) {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
    if (m === null) malformed(`bad UTCTime "${text}"`);
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (el.tag === DER_GENERALIZED_TIME) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
    if (m === null) malformed(`bad GeneralizedTime "${text}"`);
    year = Number(m[1]);
  } else {
    return malformed('validity time must be UTCTime or GeneralizedTime');
  }
  const [month, day, hour, minute, second] = m.slice(2).map(Number) as [number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) malformed(`bad time "${text}"`);
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls 31 February over into March; a real date round-trips.
  if (new Date(ms).getUTCDate() !== day) malformed(`bad time "${text}"`);
  return ms;
}
